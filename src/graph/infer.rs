//! The one shape and dtype inference function. The builder calls it when an
//! op is created and the verifier calls it again after every pass.

use super::dim::{Dim, ShapeDisplay};
use super::dtype::DType;
use super::error::ShapeError;
use super::op::{BinaryOp, Op, ReduceOp, RowOp, UnaryOp};
use serde::Serialize;
use std::fmt;

/// The static type of a value: element type and (possibly symbolic) shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TensorType {
    /// The element type.
    pub dtype: DType,
    /// The shape, outermost axis first; dims may be symbolic (`batch`, `seq + 1`).
    pub shape: Vec<Dim>,
}

impl TensorType {
    /// A type from its parts.
    pub fn new(dtype: DType, shape: Vec<Dim>) -> TensorType {
        TensorType { dtype, shape }
    }

    /// The number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, ShapeDisplay(&self.shape))
    }
}

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
        Op::Attention { masked, .. } => {
            arity(3 + usize::from(*masked))?;
            attention(operands)
        }
    }
}

/// The rank of `scatter_add(updates, indices, ..)`'s output (the gather
/// data's rank): the index axes of `updates` collapse into one. An error
/// when `updates` cannot hold the indices' axes.
pub(crate) fn scatter_rank(updates: &TensorType, indices: &TensorType) -> Result<usize, ShapeError> {
    min_rank(updates, "the updates", indices.rank())?;
    Ok(updates.rank() - indices.rank() + 1)
}

/// The exact adjoint of gather's rule: `updates` must be shaped like
/// `take(data, indices, axis)` for a `data` with `size` along `axis`, and
/// the result is that `data`'s shape.
fn scatter_add(updates: &TensorType, indices: &TensorType, axis: usize, size: &Dim) -> Result<TensorType, ShapeError> {
    need(updates, "the updates", "numeric", |d| !d.is_bool())?;
    need(indices, "the indices", "an integer tensor", DType::is_int)?;
    check_axis(axis, scatter_rank(updates, indices)?)?;
    let window = axis..axis + indices.rank();
    if updates.shape[window.clone()] != indices.shape[..] {
        let mut expected = updates.shape[..axis].to_vec();
        expected.extend(indices.shape.iter().cloned());
        expected.extend(updates.shape[window.end..].iter().cloned());
        return Err(ShapeError::OperandShape { operand: "the updates", expected, got: updates.shape.clone() });
    }
    let mut shape = updates.shape[..axis].to_vec();
    shape.push(size.clone());
    shape.extend(updates.shape[window.end..].iter().cloned());
    Ok(TensorType::new(updates.dtype, shape))
}

/// `q [.., q_len, d]`, `k [.., k_len, d]`, `v [.., k_len, dv]` sharing
/// their batch dims, and an optional bool mask broadcastable to the scores
/// `[.., q_len, k_len]`: the result is `[.., q_len, dv]`.
fn attention(operands: &[&TensorType]) -> Result<TensorType, ShapeError> {
    let (q, k, v) = (operands[0], operands[1], operands[2]);
    need(q, "the queries", "a float tensor", DType::is_float)?;
    same_dtype(q, k)?;
    same_dtype(q, v)?;
    min_rank(q, "the queries", 2)?;
    let r = q.rank();
    let batch = &q.shape[..r - 2];
    let (q_len, d) = (&q.shape[r - 2], &q.shape[r - 1]);
    let with = |rows: &Dim, cols: &Dim| {
        let mut s = batch.to_vec();
        s.extend([rows.clone(), cols.clone()]);
        s
    };
    let expect = |t: &TensorType, operand: &'static str, expected: Vec<Dim>| {
        if t.shape == expected {
            Ok(())
        } else {
            Err(ShapeError::OperandShape { operand, expected, got: t.shape.clone() })
        }
    };
    min_rank(k, "the keys", 2)?;
    let k_len = &k.shape[k.rank() - 2];
    expect(k, "the keys", with(k_len, d))?;
    min_rank(v, "the values", 2)?;
    let dv = &v.shape[v.rank() - 1];
    expect(v, "the values", with(k_len, dv))?;
    if let Some(mask) = operands.get(3) {
        need(mask, "the mask", "bool", DType::is_bool)?;
        let scores = with(q_len, k_len);
        if mask.rank() > scores.len() || broadcast(&mask.shape, &scores).ok().as_ref() != Some(&scores) {
            return Err(ShapeError::Expand { from: mask.shape.clone(), to: scores });
        }
    }
    Ok(TensorType::new(q.dtype, with(q_len, dv)))
}

fn conv1d(
    operands: &[&TensorType],
    stride: usize,
    padding: usize,
    dilation: usize,
    groups: usize,
) -> Result<TensorType, ShapeError> {
    if !(2..=3).contains(&operands.len()) {
        return Err(ShapeError::Arity { expected: 3, got: operands.len() });
    }
    let (x, w) = (operands[0], operands[1]);
    need(x, "the input", "a float tensor", DType::is_float)?;
    same_dtype(x, w)?;
    exact_rank(x, "the input [batch, channels, length]", 3)?;
    exact_rank(w, "the weight [out_channels, in_channels/groups, kernel]", 3)?;
    let invalid = |detail: String| ShapeError::Invalid { what: "conv1d", detail };
    if stride == 0 || dilation == 0 || groups == 0 {
        return Err(invalid(format!("stride {stride}, dilation {dilation} and groups {groups} must be at least 1")));
    }
    let static_of = |d: &Dim, what| d.as_static().ok_or(ShapeError::NeedsStatic { what, dim: d.clone() });
    let c_in = static_of(&x.shape[1], "conv1d input channels")?;
    let c_out = static_of(&w.shape[0], "conv1d output channels")?;
    let k = static_of(&w.shape[2], "conv1d kernel size")?;
    if !c_in.is_multiple_of(groups) || !c_out.is_multiple_of(groups) {
        return Err(invalid(format!("groups {groups} must divide in_channels {c_in} and out_channels {c_out}")));
    }
    if w.shape[1] != Dim::new(c_in / groups) {
        return Err(ShapeError::OperandShape {
            operand: "the weight",
            expected: vec![Dim::new(c_out), Dim::new(c_in / groups), Dim::new(k)],
            got: w.shape.clone(),
        });
    }
    if let Some(b) = operands.get(2) {
        same_dtype(x, b)?;
        if b.shape != [Dim::new(c_out)] {
            return Err(ShapeError::OperandShape {
                operand: "the bias",
                expected: vec![Dim::new(c_out)],
                got: b.shape.clone(),
            });
        }
    }
    let reach = dilation * k.saturating_sub(1) + 1;
    let padded = &x.shape[2] + &Dim::new(2 * padding);
    let len = match padded.as_static() {
        Some(p) if p < reach => {
            return Err(invalid(format!("padded length {p} is shorter than the kernel's reach {reach}")));
        }
        Some(p) => Dim::new((p - reach) / stride + 1),
        None if stride == 1 => &padded - &Dim::new(reach - 1),
        None => {
            return Err(ShapeError::NeedsStatic { what: "a strided conv1d's input length", dim: x.shape[2].clone() })
        }
    };
    Ok(TensorType::new(x.dtype, vec![x.shape[0].clone(), Dim::new(c_out), len]))
}

/// Numpy broadcasting: align from the right; dims must match or be 1.
pub fn broadcast(lhs: &[Dim], rhs: &[Dim]) -> Result<Vec<Dim>, ShapeError> {
    let rank = lhs.len().max(rhs.len());
    let one = Dim::new(1);
    let mut out = Vec::with_capacity(rank);
    for i in 0..rank {
        let a = (i + lhs.len()).checked_sub(rank).map_or(&one, |j| &lhs[j]);
        let b = (i + rhs.len()).checked_sub(rank).map_or(&one, |j| &rhs[j]);
        let d = if a == b || b == &one {
            a
        } else if a == &one {
            b
        } else {
            return Err(ShapeError::Broadcast { lhs: lhs.to_vec(), rhs: rhs.to_vec(), a: a.clone(), b: b.clone() });
        };
        out.push(d.clone());
    }
    Ok(out)
}

fn reduced(shape: &[Dim], axis: usize, keep_dim: bool) -> Vec<Dim> {
    let mut out = shape.to_vec();
    if keep_dim {
        out[axis] = Dim::new(1);
    } else {
        out.remove(axis);
    }
    out
}

fn need(
    t: &TensorType,
    operand: &'static str,
    expected: &'static str,
    ok: fn(DType) -> bool,
) -> Result<(), ShapeError> {
    if ok(t.dtype) {
        Ok(())
    } else {
        Err(ShapeError::DTypeClass { operand, expected, got: t.dtype })
    }
}

fn same_dtype(a: &TensorType, b: &TensorType) -> Result<(), ShapeError> {
    if a.dtype == b.dtype {
        Ok(())
    } else {
        Err(ShapeError::DTypeMismatch { lhs: a.dtype, rhs: b.dtype })
    }
}

fn min_rank(t: &TensorType, operand: &'static str, min: usize) -> Result<(), ShapeError> {
    if t.rank() >= min {
        Ok(())
    } else {
        Err(ShapeError::Rank { operand, expected: format!("at least {min}"), got: t.rank(), shape: t.shape.clone() })
    }
}

fn exact_rank(t: &TensorType, operand: &'static str, rank: usize) -> Result<(), ShapeError> {
    if t.rank() == rank {
        Ok(())
    } else {
        Err(ShapeError::Rank { operand, expected: rank.to_string(), got: t.rank(), shape: t.shape.clone() })
    }
}

fn check_axis(axis: usize, rank: usize) -> Result<(), ShapeError> {
    if axis < rank {
        Ok(())
    } else {
        Err(ShapeError::Axis { axis: axis as isize, rank })
    }
}
