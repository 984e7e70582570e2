//! Elementwise ops: unary functions, broadcast binaries, comparisons,
//! `where` and casts. Floats compute in f64 and round once to the output
//! dtype; integers compute in i64 so token ids and indices stay exact.

use super::layout::broadcast_offsets;
use crate::graph::{BinaryOp, CompareOp, DType, Gelu, Tensor, UnaryOp};

pub fn gelu_erf(x: f64) -> f64 {
    0.5 * x * (1.0 + libm::erf(x / std::f64::consts::SQRT_2))
}

pub fn gelu_tanh(x: f64) -> f64 {
    let c = (2.0 / std::f64::consts::PI).sqrt();
    0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

pub fn unary(op: UnaryOp, x: &Tensor) -> Tensor {
    let shape = x.shape().to_vec();
    let dtype = x.dtype();
    if !dtype.is_float() {
        let v = x.to_i64_vec();
        let out: Vec<i64> = match op {
            UnaryOp::Neg => v.iter().map(|a| a.wrapping_neg()).collect(),
            UnaryOp::Abs => v.iter().map(|a| a.wrapping_abs()).collect(),
            UnaryOp::Not => v.iter().map(|&a| (a == 0) as i64).collect(),
            // Inference only admits the three above for non-float operands.
            UnaryOp::Exp
            | UnaryOp::Log
            | UnaryOp::Sqrt
            | UnaryOp::Rsqrt
            | UnaryOp::Recip
            | UnaryOp::Tanh
            | UnaryOp::Sigmoid
            | UnaryOp::Relu
            | UnaryOp::Silu
            | UnaryOp::Gelu(_)
            | UnaryOp::Erf
            | UnaryOp::Sin
            | UnaryOp::Cos => v,
        };
        return Tensor::from_i64_unchecked(dtype, shape, &out);
    }
    let f: fn(f64) -> f64 = match op {
        UnaryOp::Neg => |a| -a,
        UnaryOp::Abs => f64::abs,
        UnaryOp::Exp => f64::exp,
        UnaryOp::Log => f64::ln,
        UnaryOp::Sqrt => f64::sqrt,
        UnaryOp::Rsqrt => |a| 1.0 / a.sqrt(),
        UnaryOp::Recip => |a| 1.0 / a,
        UnaryOp::Tanh => f64::tanh,
        UnaryOp::Sigmoid => sigmoid,
        UnaryOp::Relu => |a| if a > 0.0 { a } else { 0.0 },
        UnaryOp::Silu => |a| a * sigmoid(a),
        UnaryOp::Gelu(Gelu::Erf) => gelu_erf,
        UnaryOp::Gelu(Gelu::Tanh) => gelu_tanh,
        UnaryOp::Erf => libm::erf,
        UnaryOp::Sin => f64::sin,
        UnaryOp::Cos => f64::cos,
        UnaryOp::Not => |a| (a == 0.0) as u8 as f64,
    };
    let out: Vec<f64> = x.to_f64_vec().into_iter().map(f).collect();
    Tensor::from_f64_unchecked(dtype, shape, &out)
}

/// Python's floor division on integers; division by zero gives 0 rather
/// than trapping (the GPU cannot trap either).
fn floor_div(a: i64, b: i64) -> i64 {
    if b == 0 {
        return 0;
    }
    let q = a.wrapping_div(b);
    if (a % b != 0) && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    }
}

pub fn binary(op: BinaryOp, a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Tensor {
    let (oa, ob) = (broadcast_offsets(a.shape(), out_shape), broadcast_offsets(b.shape(), out_shape));
    let dtype = a.dtype();
    if dtype.is_float() {
        let (va, vb) = (a.to_f64_vec(), b.to_f64_vec());
        let f: fn(f64, f64) -> f64 = match op {
            BinaryOp::Add => |x, y| x + y,
            BinaryOp::Sub => |x, y| x - y,
            BinaryOp::Mul => |x, y| x * y,
            BinaryOp::Div => |x, y| x / y,
            BinaryOp::Pow => f64::powf,
            BinaryOp::Max => f64::max,
            BinaryOp::Min => f64::min,
            BinaryOp::And => |x, y| (x != 0.0 && y != 0.0) as u8 as f64,
            BinaryOp::Or => |x, y| (x != 0.0 || y != 0.0) as u8 as f64,
        };
        let out: Vec<f64> = oa.iter().zip(&ob).map(|(&i, &j)| f(va[i], vb[j])).collect();
        Tensor::from_f64_unchecked(dtype, out_shape.to_vec(), &out)
    } else {
        let (va, vb) = (a.to_i64_vec(), b.to_i64_vec());
        let f: fn(i64, i64) -> i64 = match op {
            BinaryOp::Add => i64::wrapping_add,
            BinaryOp::Sub => i64::wrapping_sub,
            BinaryOp::Mul => i64::wrapping_mul,
            BinaryOp::Div => floor_div,
            BinaryOp::Pow => |x, y| x.wrapping_pow(y.clamp(0, u32::MAX as i64) as u32),
            BinaryOp::Max => i64::max,
            BinaryOp::Min => i64::min,
            BinaryOp::And => |x, y| (x != 0 && y != 0) as i64,
            BinaryOp::Or => |x, y| (x != 0 || y != 0) as i64,
        };
        let out: Vec<i64> = oa.iter().zip(&ob).map(|(&i, &j)| f(va[i], vb[j])).collect();
        Tensor::from_i64_unchecked(dtype, out_shape.to_vec(), &out)
    }
}

pub fn compare(op: CompareOp, a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Tensor {
    let (oa, ob) = (broadcast_offsets(a.shape(), out_shape), broadcast_offsets(b.shape(), out_shape));
    fn cmp<T: PartialOrd>(op: CompareOp, x: T, y: T) -> bool {
        match op {
            CompareOp::Eq => x == y,
            CompareOp::Ne => x != y,
            CompareOp::Lt => x < y,
            CompareOp::Le => x <= y,
            CompareOp::Gt => x > y,
            CompareOp::Ge => x >= y,
        }
    }
    let out: Vec<bool> = if a.dtype().is_float() {
        let (va, vb) = (a.to_f64_vec(), b.to_f64_vec());
        oa.iter().zip(&ob).map(|(&i, &j)| cmp(op, va[i], vb[j])).collect()
    } else {
        let (va, vb) = (a.to_i64_vec(), b.to_i64_vec());
        oa.iter().zip(&ob).map(|(&i, &j)| cmp(op, va[i], vb[j])).collect()
    };
    Tensor::from_i64_unchecked(DType::Bool, out_shape.to_vec(), &out.iter().map(|&b| b as i64).collect::<Vec<_>>())
}

pub fn select(cond: &Tensor, a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Tensor {
    let oc = broadcast_offsets(cond.shape(), out_shape);
    let (oa, ob) = (broadcast_offsets(a.shape(), out_shape), broadcast_offsets(b.shape(), out_shape));
    let c = cond.to_i64_vec();
    if a.dtype().is_float() {
        let (va, vb) = (a.to_f64_vec(), b.to_f64_vec());
        let out: Vec<f64> = (0..oc.len()).map(|k| if c[oc[k]] != 0 { va[oa[k]] } else { vb[ob[k]] }).collect();
        Tensor::from_f64_unchecked(a.dtype(), out_shape.to_vec(), &out)
    } else {
        let (va, vb) = (a.to_i64_vec(), b.to_i64_vec());
        let out: Vec<i64> = (0..oc.len()).map(|k| if c[oc[k]] != 0 { va[oa[k]] } else { vb[ob[k]] }).collect();
        Tensor::from_i64_unchecked(a.dtype(), out_shape.to_vec(), &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_division_matches_python() {
        assert_eq!(floor_div(7, 2), 3);
        assert_eq!(floor_div(-7, 2), -4);
        assert_eq!(floor_div(7, -2), -4);
        assert_eq!(floor_div(-8, 2), -4);
        assert_eq!(floor_div(1, 0), 0);
    }

    #[test]
    fn gelu_forms_match_known_values() {
        // torch.nn.functional.gelu(torch.tensor(1.0, dtype=torch.float64)) = 0.8413447460685429
        assert!((gelu_erf(1.0) - 0.841_344_746_068_542_9).abs() < 1e-15);
        // approximate='tanh': 0.8411919906082768
        assert!((gelu_tanh(1.0) - 0.841_191_990_608_276_8).abs() < 1e-15);
    }
}
