//! Write-backs that replace a few rows of a large weight. A KV cache grows
//! by one token per decode step: the graph says so functionally, as the
//! new cache `concat([cache[..start], rows, cache[start + len..]])` written
//! back under the cache's name, and computing that concat would copy the
//! whole cache every step. When the written-back value has exactly that
//! form (the rows one contiguous block of the weight: every axis before
//! the joined one of size 1), the output becomes `rows` itself and the
//! runtime copies it into the weight's buffer at the block's offset.
//!
//! The step's attention reads the cache's first rows followed by the new
//! ones, `concat([cache[..start], rows])`: exactly the weight's first
//! `start + len` rows once the new rows are in. [`prefix_reads`] finds those
//! concats so the runtime copies the rows in before they are read and binds
//! the weight itself, instead of copying the whole cache every step.

use crate::graph::{Dim, Ir, NodeId, Op};
use std::collections::HashMap;

/// One write-back of a block of rows into its weight.
#[derive(Debug, Clone)]
pub struct BlockWrite {
    /// The weight written.
    pub weight: NodeId,
    /// The rows written, as the graph computes them.
    pub rows: NodeId,
    /// The node whose buffer is copied in: `rows`, or the value it is a
    /// reordering-free view of (a reshape of a matmul's output, a permute
    /// that only moves size-1 axes, one batch row's block of a batched
    /// step's keys), which saves a copy kernel.
    pub source: NodeId,
    /// Where in `source`'s buffer the rows start, in elements.
    pub source_offset: Dim,
    /// The rows' size, in elements.
    pub len: Dim,
    /// The axis the rows join along.
    pub axis: usize,
    /// Where along `axis` the rows start.
    pub start: Dim,
    /// The same, in elements into the weight.
    pub offset: Dim,
}

/// The block write-backs, by output name.
pub type InPlaceOffsets = HashMap<String, BlockWrite>;

/// Points every output of the form above at its rows and returns each
/// one's block, by output name. The concat and the tail slice are left
/// for dead-code elimination.
pub fn rewrite(ir: &mut Ir) -> InPlaceOffsets {
    let weights: HashMap<String, NodeId> = ir
        .graph
        .node_indices()
        .filter_map(|id| match &ir.node(id).op {
            Op::Weight { name, .. } => Some((name.clone(), id)),
            _ => None,
        })
        .collect();
    let mut offsets = InPlaceOffsets::new();
    for i in 0..ir.outputs.len() {
        let (name, value) = ir.outputs[i].clone();
        let Some(&weight) = weights.get(&name) else { continue };
        if let Some(block) = block_write(ir, value, weight) {
            ir.outputs[i].1 = block.source;
            offsets.insert(name, block);
        }
    }
    offsets
}

/// The nodes `concat([slice(weight, 0, start), rows])` along the block's
/// axis: the weight's first rows through the new ones. Empty unless every
/// reader of the weight reads only rows before `start` (call after dead
/// code is gone: the tail slice no longer reads it), so copying the rows in
/// early changes nothing another kernel sees.
pub fn prefix_reads(ir: &Ir, block: &BlockWrite) -> Vec<NodeId> {
    let zero = Dim::new(0);
    let is_head = |n: NodeId| {
        matches!(&ir.node(n).op, Op::Slice { axis, start, end, step: 1 }
            if *axis == block.axis && *start == zero && *end == block.start)
    };
    let readers = ir.users(block.weight);
    if readers.is_empty() || !readers.iter().all(|&n| is_head(n)) {
        return Vec::new();
    }
    let mut out: Vec<NodeId> = readers
        .iter()
        .flat_map(|&head| ir.users(head))
        .filter(|&c| {
            matches!(ir.node(c).op, Op::Concat { axis } if axis == block.axis)
                && matches!(ir.operands(c).as_slice(), [h, r] if is_head(*h) && *r == block.rows)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The block when `value` is
/// `concat([slice(w, 0, s), rows, slice(w, s + len(rows), size)], axis)`
/// over `w` and the rows are one contiguous block of it.
fn block_write(ir: &Ir, value: NodeId, weight: NodeId) -> Option<BlockWrite> {
    let Op::Concat { axis } = ir.node(value).op else { return None };
    let parts = ir.operands(value);
    let [head, rows, tail] = parts.as_slice() else { return None };
    let shape = &ir.node(weight).ty.shape;
    let slice_of_weight = |part: NodeId| match &ir.node(part).op {
        Op::Slice { axis: a, start, end, step: 1 } if *a == axis && ir.operands(part).first() == Some(&weight) => {
            Some((start.clone(), end.clone()))
        }
        _ => None,
    };
    let (head_start, head_end) = slice_of_weight(*head)?;
    let (tail_start, tail_end) = slice_of_weight(*tail)?;
    let len = ir.node(*rows).ty.shape.get(axis)?.clone();
    let joined = head_start == Dim::new(0) && tail_start == &head_end + &len && tail_end == shape[axis];
    let contiguous = shape[..axis].iter().all(|d| *d == Dim::new(1));
    let same_type = ir.node(*rows).ty.dtype == ir.node(weight).ty.dtype;
    let (source, source_offset) = stored_as(ir, *rows);
    (joined && contiguous && same_type).then(|| BlockWrite {
        weight,
        rows: *rows,
        source,
        source_offset,
        len: Dim::product(&ir.node(*rows).ty.shape),
        axis,
        offset: &head_end * &Dim::product(&shape[axis + 1..]),
        start: head_end,
    })
}

/// The value whose buffer holds `rows` element for element from some
/// offset: the root of a chain of reshapes, permutes and unit-step slices
/// that reads one contiguous block of it in order, else `rows` itself.
fn stored_as(ir: &Ir, rows: NodeId) -> (NodeId, Dim) {
    let mut root = rows;
    while matches!(ir.node(root).op, Op::Reshape { .. } | Op::Permute { .. } | Op::Slice { step: 1, .. }) {
        root = ir.operands(root)[0];
    }
    let has_buffer = !matches!(ir.node(root).op, Op::Constant { .. } | Op::Weight { .. });
    let same_dtype = ir.node(root).ty.dtype == ir.node(rows).ty.dtype;
    let view = super::view::strided_view(ir, rows, &std::collections::HashSet::from([root]))
        .filter(|v| v.base == root && v.is_contiguous());
    match view {
        Some(v) if root != rows && has_buffer && same_dtype => (root, v.offset),
        _ => (rows, Dim::new(0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{ops, DType, Graph};

    /// A cache `[capacity, 4]` with `n` new rows written at `past`.
    fn cache_graph(capacity: usize) -> Graph {
        let g = Graph::new("cache");
        let cache = g.weight("cache", DType::F32, [capacity, 4]);
        let past = g.input("past_mask", DType::I64, [Dim::sym("past")]);
        let new = g.input("new", DType::F32, [Dim::sym("n"), Dim::new(4)]);
        let p = Dim::sym("past");
        let end = &p + &Dim::sym("n");
        let head = ops::slice(&cache, 0, 0, p.clone());
        let tail = ops::slice(&cache, 0, end, capacity);
        let updated = ops::concat(&[&head, &new, &tail], 0);
        let seen = ops::sum(&ops::concat(&[&head, &new], 0), 0, false);
        g.output_named([
            ("cache", updated),
            ("seen", seen),
            ("past_len", ops::cast(&ops::sum(&past, 0, false), DType::F32)),
        ])
        .unwrap();
        g
    }

    #[test]
    fn a_block_write_becomes_its_rows_at_an_offset() {
        let g = cache_graph(16);
        let mut ir = g.ir().unwrap().clone();
        let offsets = rewrite(&mut ir);
        let rows = ir.outputs.iter().find(|(n, _)| n == "cache").unwrap().1;
        assert!(matches!(ir.node(rows).op, Op::Input { .. }), "the output is the new rows");
        assert_eq!(offsets["cache"].source, rows);
        assert_eq!(offsets["cache"].offset, &Dim::sym("past") * &Dim::new(4));
    }

    #[test]
    fn the_attention_s_keys_read_the_cache_once_the_rows_are_in() {
        let g = cache_graph(16);
        let mut ir = g.ir().unwrap().clone();
        let blocks = rewrite(&mut ir);
        let block = &blocks["cache"];
        // Before dead code goes, the tail slice still reads the cache.
        assert!(prefix_reads(&ir, block).is_empty());
        crate::compile::pass::Pass::run(&crate::compile::dce::DeadCode, &mut ir).unwrap();
        let reads = prefix_reads(&ir, block);
        let [seen] = reads.as_slice() else { panic!("one prefix read, got {reads:?}") };
        assert!(matches!(ir.node(*seen).op, Op::Concat { axis: 0 }));
        assert_eq!(ir.operands(*seen)[1], block.rows);
    }

    #[test]
    fn rows_that_are_a_view_in_order_are_copied_from_their_buffer() {
        let g = Graph::new("heads");
        let cache = g.weight("cache", DType::F32, [8usize, 3, 4]);
        // A decode step's values: `[1, 12]` split into heads `[1, 3, 1, 4]`
        // and back to rows `[1, 3, 4]`: the same elements in the same order.
        let v = ops::relu(&g.input("v", DType::F32, [1usize, 12]));
        let heads = ops::permute(&ops::reshape(&v, [1usize, 1, 3, 4]), &[0, 2, 1, 3]);
        let rows = ops::reshape(&ops::permute(&heads, &[0, 2, 1, 3]), [1usize, 3, 4]);
        // Rows in another order are copied as computed.
        let swapped = ops::permute(&ops::reshape(&v, [1usize, 4, 3]), &[0, 2, 1]);
        let other = g.weight("other", DType::F32, [8usize, 3, 4]);
        let p = Dim::sym("past");
        let end = &p + &Dim::new(1);
        let write = |w: &crate::graph::Value, r: &crate::graph::Value| {
            ops::concat(&[&ops::slice(w, 0, 0, p.clone()), r, &ops::slice(w, 0, end.clone(), 8)], 0)
        };
        g.output_named([("cache", write(&cache, &rows)), ("other", write(&other, &swapped))]).unwrap();
        let mut ir = g.ir().unwrap().clone();
        let blocks = rewrite(&mut ir);
        assert_eq!(blocks["cache"].source, v.node_id().unwrap());
        assert_eq!(blocks["other"].source, swapped.node_id().unwrap());
    }

    #[test]
    fn a_reader_past_the_new_rows_keeps_the_copy() {
        let g = Graph::new("reads_ahead");
        let cache = g.weight("cache", DType::F32, [8usize, 4]);
        let new = g.input("new", DType::F32, [Dim::new(1), Dim::new(4)]);
        let p = Dim::sym("past");
        let end = &p + &Dim::new(1);
        let head = ops::slice(&cache, 0, 0, p.clone());
        let updated = ops::concat(&[&head, &new, &ops::slice(&cache, 0, end, 8)], 0);
        let seen = ops::concat(&[&head, &new], 0);
        // Reads rows the early copy would overwrite.
        let ahead = ops::slice(&cache, 0, 0, 8);
        g.output_named([("cache", updated), ("seen", ops::sum(&seen, 0, false)), ("ahead", ahead)]).unwrap();
        let mut ir = g.ir().unwrap().clone();
        let blocks = rewrite(&mut ir);
        crate::compile::pass::Pass::run(&crate::compile::dce::DeadCode, &mut ir).unwrap();
        assert!(prefix_reads(&ir, &blocks["cache"]).is_empty());
    }

    #[test]
    fn other_outputs_and_other_shapes_stay() {
        let g = Graph::new("not_a_block");
        let cache = g.weight("cache", DType::F32, [4, 16]);
        let new = g.input("new", DType::F32, [Dim::new(4), Dim::new(2)]);
        // Along axis 1 of a [4, 16] weight the rows are not one block.
        let updated = ops::concat(&[&ops::slice(&cache, 1, 0, 3), &new, &ops::slice(&cache, 1, 5, 16)], 1);
        g.output_named([("cache", updated)]).unwrap();
        let mut ir = g.ir().unwrap().clone();
        assert!(rewrite(&mut ir).is_empty());
    }
}
