//! The rules of the ops with several shaped operands: scatter-add,
//! attention and conv1d.

use super::checks::{broadcast, check_axis, exact_rank, min_rank, need, same_dtype};
use super::types::TensorType;
use crate::graph::dim::Dim;
use crate::graph::dtype::DType;
use crate::graph::error::ShapeError;

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
pub(super) fn scatter_add(
    updates: &TensorType,
    indices: &TensorType,
    axis: usize,
    size: &Dim,
) -> Result<TensorType, ShapeError> {
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
/// `[.., q_len, k_len]`: the result is `[.., q_len, dv]`, or with
/// `rows_first` `[.., q_len, heads, dv]` (q of rank 3 or more).
pub(super) fn attention(operands: &[&TensorType], rows_first: bool) -> Result<TensorType, ShapeError> {
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
    let mut shape = with(q_len, dv);
    if rows_first {
        min_rank(q, "the queries", 3)?;
        shape.swap(r - 3, r - 2);
    }
    Ok(TensorType::new(q.dtype, shape))
}

pub(super) fn conv1d(
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
