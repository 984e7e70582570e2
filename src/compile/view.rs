//! Strided views: a chain of reshapes over a contiguous buffer, then
//! permutes and expands, is just the buffer read with other strides. Matmul
//! reads such operands in place (a transposed Linear weight, `k^T` in
//! attention) instead of copying them.

use crate::graph::{Dim, Ir, NodeId, Op};
use std::collections::HashSet;

/// A buffer read as `base[offset + sum(coord_i * strides_i)]`.
#[derive(Debug, Clone, PartialEq)]
pub struct StridedView {
    /// The node whose buffer is read.
    pub base: NodeId,
    /// The view's shape (the viewing node's shape).
    pub shape: Vec<Dim>,
    /// Elements to step in the base buffer per step along each view axis (0: broadcast).
    pub strides: Vec<Dim>,
}

/// Contiguous row-major strides of `shape`.
pub fn contiguous_strides(shape: &[Dim]) -> Vec<Dim> {
    let mut strides = vec![Dim::new(1); shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = &strides[i + 1] * &shape[i + 1];
    }
    strides
}

/// `id` read as a strided view of a buffer: the view [`strided_view`]
/// finds, or `id`'s own buffer read contiguously.
pub fn view_or_buffer(ir: &Ir, id: NodeId, materialised: &HashSet<NodeId>) -> StridedView {
    strided_view(ir, id, materialised).unwrap_or_else(|| StridedView {
        base: id,
        shape: ir.node(id).ty.shape.clone(),
        strides: contiguous_strides(&ir.node(id).ty.shape),
    })
}

/// The strided view `id` is, if it is one over a buffer in `materialised`
/// (or over a source, which always has a buffer).
pub fn strided_view(ir: &Ir, id: NodeId, materialised: &HashSet<NodeId>) -> Option<StridedView> {
    let node = ir.node(id);
    let is_buffer = materialised.contains(&id) || matches!(node.op, Op::Input { .. } | Op::Weight { .. });
    if is_buffer {
        return Some(StridedView {
            base: id,
            shape: node.ty.shape.clone(),
            strides: contiguous_strides(&node.ty.shape),
        });
    }
    let operand = *ir.operands(id).first()?;
    match &node.op {
        Op::Reshape { shape } => {
            // Only a contiguous view can be reshaped freely.
            let inner = strided_view(ir, operand, materialised)?;
            (inner.strides == contiguous_strides(&inner.shape)).then(|| StridedView {
                base: inner.base,
                shape: shape.clone(),
                strides: contiguous_strides(shape),
            })
        }
        Op::Permute { perm } => {
            let inner = strided_view(ir, operand, materialised)?;
            Some(StridedView {
                base: inner.base,
                shape: perm.iter().map(|&p| inner.shape[p].clone()).collect(),
                strides: perm.iter().map(|&p| inner.strides[p].clone()).collect(),
            })
        }
        Op::Expand { shape } => {
            let inner = strided_view(ir, operand, materialised)?;
            let pad = shape.len() - inner.shape.len();
            let strides = (0..shape.len())
                .map(|i| {
                    if i < pad || (inner.shape[i - pad] == Dim::new(1) && shape[i] != Dim::new(1)) {
                        Dim::new(0)
                    } else {
                        inner.strides[i - pad].clone()
                    }
                })
                .collect();
            Some(StridedView { base: inner.base, shape: shape.clone(), strides })
        }
        // Everything else computes values: not a view.
        Op::Input { .. }
        | Op::Weight { .. }
        | Op::Constant { .. }
        | Op::Range { .. }
        | Op::BandMask { .. }
        | Op::Unary(_)
        | Op::Binary(_)
        | Op::Compare(_)
        | Op::Where
        | Op::Cast(_)
        | Op::MatMul
        | Op::Gather { .. }
        | Op::ScatterAdd { .. }
        | Op::Attention { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Row(_)
        | Op::Conv1d { .. } => None,
    }
}

/// The buffer a view chain reads, when `id` is a pure view chain whose root
/// would be a buffer once materialised. Used by fusion to decide what to
/// materialise for matmul operands.
pub fn strided_base(ir: &Ir, id: NodeId, materialised: &HashSet<NodeId>) -> Option<NodeId> {
    let mut base_candidates = materialised.clone();
    // The chain's root may be any non-view node: treat it as materialised.
    let mut cur = id;
    while matches!(ir.node(cur).op, Op::Reshape { .. } | Op::Permute { .. } | Op::Expand { .. })
        && !materialised.contains(&cur)
    {
        cur = *ir.operands(cur).first()?;
    }
    if cur == id {
        return None;
    }
    base_candidates.insert(cur);
    strided_view(ir, id, &base_candidates).map(|v| v.base)
}
