//! Evaluates one node from its operand values.

use super::error::NodeFault;
use super::{attention, elementwise, linalg, movement, rows, scatter};
use crate::graph::{Bindings, Dim, Op, Tensor};

/// Everything a node needs: its op, operand values, and the concrete
/// output shape (its inferred shape evaluated under the bindings).
pub struct NodeCall<'a> {
    /// The op to evaluate.
    pub op: &'a Op,
    /// The operands' values, in slot order.
    pub operands: Vec<&'a Tensor>,
    /// The shape the result must have.
    pub out_shape: Vec<usize>,
    /// Symbol sizes, for ops whose attributes are symbolic (slice bounds).
    pub bindings: &'a Bindings,
}

/// Evaluates a dim that inference already proved well-formed.
fn size(d: &Dim, bindings: &Bindings) -> Result<usize, NodeFault> {
    d.eval(bindings).ok_or_else(|| NodeFault::UnboundDim { dim: d.to_string() })
}

/// The indices as offsets along an axis of `size` rows, or the first one
/// outside it (gather and scatter-add refuse the same indices).
fn checked_indices(indices: &Tensor, axis: usize, size: usize) -> Result<Vec<usize>, NodeFault> {
    indices
        .to_i64_vec()
        .into_iter()
        .map(|i| {
            if i < 0 || i as u64 >= size as u64 {
                Err(NodeFault::IndexOutOfRange { index: i, axis, size })
            } else {
                Ok(i as usize)
            }
        })
        .collect()
}

/// The node's value, or why its operand *values* are invalid.
pub fn eval(call: NodeCall<'_>) -> Result<Tensor, NodeFault> {
    let NodeCall { op, operands: x, out_shape: shape, bindings } = call;
    Ok(match op {
        // Sources other than ranges and masks are resolved by the caller.
        Op::Input { .. } | Op::Weight { .. } => return Err(NodeFault::SourceEvaluated),
        Op::Constant { value } => (**value).clone(),
        Op::Range { start, step, dtype, .. } => movement::range(*start, *step, shape[0], *dtype),
        Op::BandMask { before, after, .. } => movement::band_mask(shape[0], shape[1], *before, *after),
        Op::Unary(u) => elementwise::unary(*u, x[0]),
        Op::Binary(b) => elementwise::binary(*b, x[0], x[1], &shape),
        Op::Compare(c) => elementwise::compare(*c, x[0], x[1], &shape),
        Op::Where => elementwise::select(x[0], x[1], x[2], &shape),
        Op::Cast(d) => x[0].cast(*d),
        Op::MatMul => linalg::matmul(x[0], x[1], &shape),
        Op::Permute { perm } => movement::permute(x[0], perm, &shape),
        Op::Reshape { .. } => x[0].clone().reshape(shape)?,
        Op::Expand { .. } => movement::expand(x[0], &shape),
        Op::Gather { axis } => {
            let idx = checked_indices(x[1], *axis, x[0].shape()[*axis])?;
            movement::gather(x[0], &idx, *axis, &shape)
        }
        Op::ScatterAdd { axis, .. } => {
            let idx = checked_indices(x[1], *axis, shape[*axis])?;
            scatter::scatter_add(x[0], &idx, *axis, &shape)
        }
        Op::Slice { axis, start, end, step } => {
            let (s, e, n) = (size(start, bindings)?, size(end, bindings)?, x[0].shape()[*axis]);
            if s > e || e > n {
                return Err(NodeFault::SliceOutOfRange { start: s, end: e, axis: *axis, size: n });
            }
            movement::slice(x[0], *axis, s, *step, &shape)
        }
        Op::Concat { axis } => movement::concat(&x, *axis, &shape),
        Op::Row(r) => rows::row(r, &x, &shape),
        Op::Conv1d { stride, padding, dilation, groups } => {
            linalg::conv1d(x[0], x[1], x.get(2).copied(), (*stride, *padding, *dilation, *groups), &shape)
        }
        Op::Attention { scale, rows_first, .. } => {
            let y = attention::attention(x[0], x[1], x[2], x.get(3).copied(), *scale);
            if *rows_first {
                let r = shape.len();
                let mut perm: Vec<usize> = (0..r).collect();
                perm.swap(r - 3, r - 2);
                movement::permute(&y, &perm, &shape)
            } else {
                y
            }
        }
    })
}
