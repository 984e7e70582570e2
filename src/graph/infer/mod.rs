//! The one shape and dtype inference function. The builder calls it when an
//! op is created and the verifier calls it again after every pass. The
//! rules of multi-operand ops live in `linalg`, the shared checks in
//! `checks`, the type itself in `types`.

mod checks;
mod linalg;
mod types;

pub use checks::broadcast;
pub(crate) use linalg::scatter_rank;
pub use types::TensorType;

use super::dim::Dim;
use super::dtype::DType;
use super::error::ShapeError;
use super::op::{BinaryOp, Op, ReduceOp, RowOp, UnaryOp};
use checks::{check_axis, min_rank, need, reduced, same_dtype};
use linalg::{attention, conv1d, scatter_add};

/// The output type of `op` applied to operands of the given types.
pub fn infer(op: &Op, operands: &[&TensorType]) -> Result<TensorType, ShapeError> {
    let arity = |n: usize| -> Result<(), ShapeError> {
        if operands.len() == n {
            Ok(())
        } else {
            Err(ShapeError::Arity { expected: n, got: operands.len() })
        }
    };
    match op {
        Op::Input { dtype, shape, .. } | Op::Weight { dtype, shape, .. } => {
            arity(0)?;
            Ok(TensorType::new(*dtype, shape.clone()))
        }
        Op::Constant { value } => {
            arity(0)?;
            Ok(TensorType::new(value.dtype(), value.shape().iter().map(|&d| Dim::new(d)).collect()))
        }
        Op::Range { len, dtype, .. } => {
            arity(0)?;
            if dtype.is_bool() {
                return Err(ShapeError::DTypeClass { operand: "range", expected: "numeric", got: *dtype });
            }
            Ok(TensorType::new(*dtype, vec![len.clone()]))
        }
        Op::BandMask { rows, cols, .. } => {
            arity(0)?;
            Ok(TensorType::new(DType::Bool, vec![rows.clone(), cols.clone()]))
        }
        Op::Unary(u) => {
            arity(1)?;
            let x = operands[0];
            match u {
                UnaryOp::Not => need(x, "the operand", "bool", DType::is_bool)?,
                UnaryOp::Neg | UnaryOp::Abs => need(x, "the operand", "numeric", |d| !d.is_bool())?,
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
                | UnaryOp::Cos => need(x, "the operand", "a float tensor", DType::is_float)?,
            }
            Ok(x.clone())
        }
        Op::Binary(b) => {
            arity(2)?;
            let (l, r) = (operands[0], operands[1]);
            same_dtype(l, r)?;
            match b {
                BinaryOp::And | BinaryOp::Or => need(l, "the operands", "bool", DType::is_bool)?,
                BinaryOp::Pow => need(l, "the operands", "float tensors", DType::is_float)?,
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Max | BinaryOp::Min => {
                    need(l, "the operands", "numeric", |d| !d.is_bool())?
                }
            }
            Ok(TensorType::new(l.dtype, broadcast(&l.shape, &r.shape)?))
        }
        Op::Compare(_) => {
            arity(2)?;
            let (l, r) = (operands[0], operands[1]);
            same_dtype(l, r)?;
            Ok(TensorType::new(DType::Bool, broadcast(&l.shape, &r.shape)?))
        }
        Op::Where => {
            arity(3)?;
            let (c, a, b) = (operands[0], operands[1], operands[2]);
            need(c, "the condition", "bool", DType::is_bool)?;
            same_dtype(a, b)?;
            let shape = broadcast(&broadcast(&c.shape, &a.shape)?, &b.shape)?;
            Ok(TensorType::new(a.dtype, shape))
        }
        Op::Cast(to) => {
            arity(1)?;
            Ok(TensorType::new(*to, operands[0].shape.clone()))
        }
        Op::MatMul => {
            arity(2)?;
            let (l, r) = (operands[0], operands[1]);
            same_dtype(l, r)?;
            need(l, "the operands", "float tensors", DType::is_float)?;
            min_rank(l, "the left operand", 2)?;
            min_rank(r, "the right operand", 2)?;
            let (lb, lmk) = l.shape.split_at(l.rank() - 2);
            let (rb, rkn) = r.shape.split_at(r.rank() - 2);
            if lmk[1] != rkn[0] {
                return Err(ShapeError::MatMulInner {
                    lhs: l.shape.clone(),
                    rhs: r.shape.clone(),
                    k_lhs: lmk[1].clone(),
                    k_rhs: rkn[0].clone(),
                });
            }
            let mut shape = broadcast(lb, rb).map_err(|_| ShapeError::Broadcast {
                lhs: l.shape.clone(),
                rhs: r.shape.clone(),
                a: Dim::product(lb),
                b: Dim::product(rb),
            })?;
            shape.push(lmk[0].clone());
            shape.push(rkn[1].clone());
            Ok(TensorType::new(l.dtype, shape))
        }
        Op::Permute { perm } => {
            arity(1)?;
            let x = operands[0];
            let mut seen = vec![false; x.rank()];
            let valid = perm.len() == x.rank()
                && perm.iter().all(|&p| p < seen.len() && !std::mem::replace(&mut seen[p], true));
            if !valid {
                return Err(ShapeError::Permutation { perm: perm.clone(), rank: x.rank() });
            }
            Ok(TensorType::new(x.dtype, perm.iter().map(|&p| x.shape[p].clone()).collect()))
        }
        Op::Reshape { shape } => {
            arity(1)?;
            let x = operands[0];
            let (from_count, to_count) = (Dim::product(&x.shape), Dim::product(shape));
            if from_count != to_count {
                return Err(ShapeError::ElementCount {
                    from: x.shape.clone(),
                    to: shape.clone(),
                    from_count,
                    to_count,
                });
            }
            Ok(TensorType::new(x.dtype, shape.clone()))
        }
        Op::Expand { shape } => {
            arity(1)?;
            let x = operands[0];
            let err = || ShapeError::Expand { from: x.shape.clone(), to: shape.clone() };
            if shape.len() < x.rank() {
                return Err(err());
            }
            let offset = shape.len() - x.rank();
            for (i, d) in x.shape.iter().enumerate() {
                if d != &shape[offset + i] && d != &Dim::new(1) {
                    return Err(err());
                }
            }
            Ok(TensorType::new(x.dtype, shape.clone()))
        }
        Op::Gather { axis } => {
            arity(2)?;
            let (data, idx) = (operands[0], operands[1]);
            check_axis(*axis, data.rank())?;
            need(idx, "the indices", "an integer tensor", DType::is_int)?;
            let mut shape = data.shape[..*axis].to_vec();
            shape.extend(idx.shape.iter().cloned());
            shape.extend(data.shape[axis + 1..].iter().cloned());
            Ok(TensorType::new(data.dtype, shape))
        }
        Op::ScatterAdd { axis, size } => {
            arity(2)?;
            scatter_add(operands[0], operands[1], *axis, size)
        }
        Op::Slice { axis, start, end, step } => {
            arity(1)?;
            let x = operands[0];
            check_axis(*axis, x.rank())?;
            let size = &x.shape[*axis];
            let bad = |reason| ShapeError::Slice {
                axis: *axis,
                size: size.clone(),
                start: start.clone(),
                end: end.clone(),
                step: *step,
                reason,
            };
            if *step == 0 {
                return Err(bad("the step is 0"));
            }
            let span = end - start;
            if span.as_static().is_none() && span.symbols().is_empty() {
                return Err(bad("the end is before the start"));
            }
            if let (Some(e), Some(s)) = (end.as_static(), size.as_static()) {
                if e > s {
                    return Err(bad("the end is past the axis"));
                }
            }
            if (size - end).as_static().is_none() && (size - end).symbols().is_empty() {
                return Err(bad("the end is past the axis"));
            }
            let len = if *step == 1 {
                span
            } else {
                let n =
                    span.as_static().ok_or(ShapeError::NeedsStatic { what: "a strided slice", dim: span.clone() })?;
                Dim::new(n.div_ceil(*step))
            };
            let mut shape = x.shape.clone();
            shape[*axis] = len;
            Ok(TensorType::new(x.dtype, shape))
        }
        Op::Concat { axis } => {
            let first = operands
                .first()
                .ok_or_else(|| ShapeError::Invalid { what: "concat", detail: "needs at least one operand".into() })?;
            check_axis(*axis, first.rank())?;
            let mut total = Dim::new(0);
            for o in operands {
                same_dtype(first, o)?;
                let same_elsewhere =
                    o.rank() == first.rank() && (0..o.rank()).all(|i| i == *axis || o.shape[i] == first.shape[i]);
                if !same_elsewhere {
                    return Err(ShapeError::Concat { axis: *axis, first: first.shape.clone(), other: o.shape.clone() });
                }
                total = &total + &o.shape[*axis];
            }
            let mut shape = first.shape.clone();
            shape[*axis] = total;
            Ok(TensorType::new(first.dtype, shape))
        }
        Op::Row(RowOp::LayerNorm { .. }) | Op::Row(RowOp::RmsNorm { .. }) => {
            let names: &[&'static str] =
                if matches!(op, Op::Row(RowOp::LayerNorm { .. })) { &["gamma", "beta"] } else { &["gamma"] };
            arity(1 + names.len())?;
            let x = operands[0];
            need(x, "the operand", "a float tensor", DType::is_float)?;
            min_rank(x, "the operand", 1)?;
            let last = vec![x.shape[x.rank() - 1].clone()];
            for (name, p) in names.iter().zip(&operands[1..]) {
                same_dtype(x, p)?;
                if p.shape != last {
                    return Err(ShapeError::OperandShape { operand: name, expected: last, got: p.shape.clone() });
                }
            }
            Ok(x.clone())
        }
        Op::Row(RowOp::LayerNormGrad { .. }) | Op::Row(RowOp::RmsNormGrad { .. }) => {
            arity(3)?;
            let (x, dy, gamma) = (operands[0], operands[1], operands[2]);
            need(x, "the operand", "a float tensor", DType::is_float)?;
            min_rank(x, "the operand", 1)?;
            for (name, p, want) in [("dy", dy, x.shape.clone()), ("gamma", gamma, vec![x.shape[x.rank() - 1].clone()])]
            {
                same_dtype(x, p)?;
                if p.shape != want {
                    return Err(ShapeError::OperandShape { operand: name, expected: want, got: p.shape.clone() });
                }
            }
            Ok(x.clone())
        }
        Op::Row(RowOp::Softmax { axis }) => {
            arity(1)?;
            let x = operands[0];
            need(x, "the operand", "a float tensor", DType::is_float)?;
            check_axis(*axis, x.rank())?;
            Ok(x.clone())
        }
        Op::Row(RowOp::Reduce { op, axis, keep_dim }) => {
            arity(1)?;
            let x = operands[0];
            if *op == ReduceOp::Mean {
                need(x, "the operand", "a float tensor", DType::is_float)?;
            } else {
                need(x, "the operand", "numeric", |d| !d.is_bool())?;
            }
            check_axis(*axis, x.rank())?;
            Ok(TensorType::new(x.dtype, reduced(&x.shape, *axis, *keep_dim)))
        }
        Op::Row(RowOp::ArgMax { axis, keep_dim }) => {
            arity(1)?;
            let x = operands[0];
            need(x, "the operand", "numeric", |d| !d.is_bool())?;
            check_axis(*axis, x.rank())?;
            Ok(TensorType::new(DType::I64, reduced(&x.shape, *axis, *keep_dim)))
        }
        Op::Row(RowOp::Cumsum { axis }) => {
            arity(1)?;
            let x = operands[0];
            need(x, "the operand", "numeric", |d| !d.is_bool())?;
            check_axis(*axis, x.rank())?;
            Ok(x.clone())
        }
        Op::Conv1d { stride, padding, dilation, groups } => conv1d(operands, *stride, *padding, *dilation, *groups),
        Op::Attention { masked, rows_first, .. } => {
            arity(3 + usize::from(*masked))?;
            attention(operands, *rows_first)
        }
    }
}
