//! Strided views: a chain of reshapes over a contiguous buffer, then
//! permutes, expands and unit-step slices, is just the buffer read with
//! other strides from some offset. Matmul reads such operands in place (a
//! transposed Linear weight, `k^T` in attention) instead of copying them;
//! attention also reads slices in place (one conversation's queries out
//! of a batched decode step's).

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
    /// The element of the base buffer at the view's origin (nonzero only
    /// through a slice).
    pub offset: Dim,
}

impl StridedView {
    /// Whether the view reads its buffer in row-major order. Size-1 axes
    /// take no steps, so their strides do not matter: a permute that only
    /// moves them (`[1, heads, 1, d]` to `[1, 1, heads, d]`) stays in order.
    pub fn is_contiguous(&self) -> bool {
        let one = Dim::new(1);
        let dense = contiguous_strides(&self.shape);
        self.shape.iter().zip(self.strides.iter().zip(&dense)).all(|(size, (s, d))| *size == one || s == d)
    }

    /// Whether the view starts at its buffer's first element.
    pub fn at_origin(&self) -> bool {
        self.offset == Dim::new(0)
    }

    /// The view over the whole of `id`'s buffer, read in order.
    fn whole(ir: &Ir, id: NodeId) -> StridedView {
        let shape = ir.node(id).ty.shape.clone();
        StridedView { base: id, strides: contiguous_strides(&shape), shape, offset: Dim::new(0) }
    }
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
    strided_view(ir, id, materialised).unwrap_or_else(|| StridedView::whole(ir, id))
}

/// The strided view `id` is, if it is one over a buffer in `materialised`
/// (or over a source, which always has a buffer).
pub fn strided_view(ir: &Ir, id: NodeId, materialised: &HashSet<NodeId>) -> Option<StridedView> {
    let node = ir.node(id);
    let is_buffer = materialised.contains(&id) || matches!(node.op, Op::Input { .. } | Op::Weight { .. });
    if is_buffer {
        return Some(StridedView::whole(ir, id));
    }
    let operand = *ir.operands(id).first()?;
    match &node.op {
        Op::Reshape { shape } => {
            // A contiguous view reshapes freely; a strided one as far as
            // its layout allows.
            let inner = strided_view(ir, operand, materialised)?;
            if inner.is_contiguous() {
                return Some(StridedView {
                    base: inner.base,
                    shape: shape.clone(),
                    strides: contiguous_strides(shape),
                    offset: inner.offset,
                });
            }
            strided_reshape(&inner, shape)
        }
        Op::Permute { perm } => {
            let inner = strided_view(ir, operand, materialised)?;
            Some(StridedView {
                base: inner.base,
                shape: perm.iter().map(|&p| inner.shape[p].clone()).collect(),
                strides: perm.iter().map(|&p| inner.strides[p].clone()).collect(),
                offset: inner.offset,
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
            Some(StridedView { base: inner.base, shape: shape.clone(), strides, offset: inner.offset })
        }
        Op::Slice { axis, start, end, step: 1 } => {
            let mut view = strided_view(ir, operand, materialised)?;
            view.offset = &view.offset + &(start * &view.strides[*axis]);
            view.shape[*axis] = end - start;
            Some(view)
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

/// `view` reshaped to `shape` without moving data, if that can be done:
/// size-1 axes come and go (stride 0), equal axes keep their stride, and
/// a run of static axes splits or merges when the run is laid out
/// contiguously (each axis's stride its inner neighbour's stride times
/// size), as PyTorch's `view` decides. Splitting the head axis of a
/// permuted `[batch, heads, seq, head_dim]` into `[kv_heads, group]` (the
/// grouped-query attention's queries) stays a view.
fn strided_reshape(view: &StridedView, shape: &[Dim]) -> Option<StridedView> {
    let one = Dim::new(1);
    let old: Vec<(&Dim, &Dim)> = view.shape.iter().zip(&view.strides).filter(|(d, _)| **d != one).collect();
    let new: Vec<usize> = (0..shape.len()).filter(|&i| shape[i] != one).collect();
    let mut strides = vec![Dim::new(0); shape.len()];
    let (mut i, mut j) = (0, 0);
    while i < old.len() && j < new.len() {
        if *old[i].0 == shape[new[j]] {
            strides[new[j]] = old[i].1.clone();
            (i, j) = (i + 1, j + 1);
            continue;
        }
        // A run of old axes and a run of new axes with the same static size.
        let j0 = j;
        let (mut old_size, mut new_size) = (old[i].0.as_static()?, shape[new[j]].as_static()?);
        while old_size != new_size {
            if old_size < new_size {
                i += 1;
                let (size, stride) = *old.get(i)?;
                // Merging needs the outer axis to follow the inner one in memory.
                if *old[i - 1].1 != stride * size {
                    return None;
                }
                old_size *= size.as_static()?;
            } else {
                j += 1;
                new_size *= shape[*new.get(j)?].as_static()?;
            }
        }
        // The run's innermost stride, multiplied outwards by the new sizes.
        let mut stride = old[i].1.clone();
        for &k in new[j0..=j].iter().rev() {
            strides[k] = stride.clone();
            stride = &stride * &shape[k];
        }
        (i, j) = (i + 1, j + 1);
    }
    (i == old.len() && j == new.len()).then(|| StridedView {
        base: view.base,
        shape: shape.to_vec(),
        strides,
        offset: view.offset.clone(),
    })
}

/// The buffer a view chain reads, when `id` is a pure view chain whose root
/// would be a buffer once materialised. Used by fusion to decide what to
/// materialise for matmul and attention operands; `slices`: whether the
/// reader takes a view from an offset (the chain may hold unit-step slices).
pub fn strided_base(ir: &Ir, id: NodeId, materialised: &HashSet<NodeId>, slices: bool) -> Option<NodeId> {
    let mut base_candidates = materialised.clone();
    // The chain's root may be any non-view node: treat it as materialised.
    let mut cur = id;
    let is_view = |op: &Op| match op {
        Op::Reshape { .. } | Op::Permute { .. } | Op::Expand { .. } => true,
        Op::Slice { step: 1, .. } => slices,
        _ => false,
    };
    while is_view(&ir.node(cur).op) && !materialised.contains(&cur) {
        cur = *ir.operands(cur).first()?;
    }
    if cur == id {
        return None;
    }
    base_candidates.insert(cur);
    strided_view(ir, id, &base_candidates).map(|v| v.base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{ops, DType, Graph};

    /// An unsqueeze of a transposed buffer stays a view of the buffer (the
    /// grouped-query attention's keys); a reshape that merges strided axes
    /// does not.
    #[test]
    fn a_strided_view_takes_unit_axes_but_not_merges() {
        let g = Graph::new("views");
        let x = g.input("x", DType::F32, [2usize, 3, 4]);
        let t = ops::permute(&x, &[0, 2, 1]);
        let u = ops::unsqueeze(&t, 1);
        let merged = ops::reshape(&t, [2usize, 12]);
        g.output_named([("u", u.clone()), ("m", merged.clone())]).unwrap();
        let ir = g.ir().unwrap().clone();
        let m = HashSet::new();
        let view = strided_view(&ir, u.node_id().unwrap(), &m).expect("a view");
        assert_eq!(view.base, x.node_id().unwrap());
        let d = |v: &[usize]| v.iter().map(|&n| Dim::new(n)).collect::<Vec<_>>();
        assert_eq!(view.shape, d(&[2, 1, 4, 3]));
        assert_eq!(view.strides, d(&[12, 0, 1, 4]));
        assert!(strided_view(&ir, merged.node_id().unwrap(), &m).is_none());
    }

    /// Splitting a strided axis is a view (the grouped-query attention's
    /// queries, sliced per slot); merging axes that do not follow each
    /// other in memory is not, nor is a split that does not divide.
    #[test]
    fn a_strided_axis_splits_in_place() {
        let g = Graph::new("split");
        let x = g.input("x", DType::F32, [Dim::new(1), Dim::sym("seq"), Dim::new(8), Dim::new(4)]);
        let heads_first = ops::slice(&ops::permute(&x, &[0, 2, 1, 3]), 2, 1, Dim::sym("seq"));
        let rows = &Dim::sym("seq") - &Dim::new(1);
        let grouped = ops::reshape(&heads_first, [Dim::new(1), Dim::new(2), Dim::new(4), rows, Dim::new(4)]);
        let merged = ops::reshape(&ops::permute(&x, &[0, 1, 3, 2]), [Dim::new(1), Dim::sym("seq"), Dim::new(32)]);
        g.output_named([("g", grouped.clone()), ("m", merged.clone())]).unwrap();
        let ir = g.ir().unwrap().clone();
        let m = HashSet::new();
        let view = strided_view(&ir, grouped.node_id().unwrap(), &m).expect("a view");
        let seq = Dim::sym("seq");
        assert_eq!(view.strides, vec![Dim::new(0), Dim::new(16), Dim::new(4), Dim::new(32), Dim::new(1)]);
        assert_eq!(view.offset, Dim::new(32));
        assert_eq!(view.shape[3], &seq - &Dim::new(1));
        assert!(strided_view(&ir, merged.node_id().unwrap(), &m).is_none());
    }

    /// A unit-step slice moves the view's origin; a stepped one is no view.
    #[test]
    fn a_slice_is_a_view_from_an_offset() {
        let g = Graph::new("slices");
        let x = g.input("x", DType::F32, [4usize, 3, 5]);
        let row = ops::permute(&ops::slice(&x, 0, 2, 3), &[0, 2, 1]);
        let cols = ops::slice(&row, 1, 1, 4);
        let stepped = ops::slice_step(&x, 0, 0, 4, 2);
        g.output_named([("c", cols.clone()), ("s", stepped.clone())]).unwrap();
        let ir = g.ir().unwrap().clone();
        let m = HashSet::new();
        let view = strided_view(&ir, cols.node_id().unwrap(), &m).expect("a view");
        let d = |v: &[usize]| v.iter().map(|&n| Dim::new(n)).collect::<Vec<_>>();
        assert_eq!((view.base, view.shape, view.strides), (x.node_id().unwrap(), d(&[1, 3, 3]), d(&[15, 1, 5])));
        assert_eq!(view.offset, Dim::new(2 * 15 + 1));
        assert!(strided_view(&ir, stepped.node_id().unwrap(), &m).is_none());
    }
}
