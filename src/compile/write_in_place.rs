//! Write-backs that replace a few rows of a large weight. A KV cache grows
//! by one token per decode step: the graph says so functionally, as the
//! new cache `concat([cache[..start], rows, cache[start + len..]])` written
//! back under the cache's name, and computing that concat would copy the
//! whole cache every step. When the written-back value has that form (the
//! rows one contiguous block of the weight: every axis before the joined
//! one of size 1), the output becomes `rows` itself and the runtime copies
//! it into the weight's buffer at the block's offset. Several conversations
//! sharing one cache (each slot's rows a region of it) write several
//! blocks at once: `concat([cache[..s0], rows0, cache[s0 + len0..s1],
//! rows1, ..., cache[sn + lenn..]])`, every block's rows a view into the
//! same value (the step's keys for every slot).
//!
//! The step's attention reads the cache's first rows followed by the new
//! ones, `concat([cache[..start], rows])`: exactly the weight's first
//! `start + len` rows once the new rows are in; or it reads the new cache
//! itself (slices of it), which is the weight once every block is in.
//! [`in_place_reads`] finds those values so the runtime copies the rows in
//! before they are read and binds the weight itself, instead of copying
//! the whole cache every step.

use crate::graph::{Dim, Ir, NodeId, Op};
use std::collections::HashMap;

/// The write-back of one or more blocks of rows into a weight.
#[derive(Debug, Clone)]
pub struct BlockWrite {
    /// The weight written.
    pub weight: NodeId,
    /// The new weight as the graph computes it (the outer concat).
    pub value: NodeId,
    /// The node whose buffer every block is copied from: the rows, or the
    /// value they are reordering-free views of (a reshape of a matmul's
    /// output, a permute that only moves size-1 axes, one batch row's block
    /// of a batched step's keys), which saves a copy kernel.
    pub source: NodeId,
    /// The axis the rows join along.
    pub axis: usize,
    /// The blocks, in the weight's order.
    pub blocks: Vec<Block>,
}

/// One block of rows landing in the weight.
#[derive(Debug, Clone)]
pub struct Block {
    /// The rows written, as the graph computes them.
    pub rows: NodeId,
    /// Where in the source's buffer the rows start, in elements.
    pub source_offset: Dim,
    /// The rows' size, in elements.
    pub len: Dim,
    /// Where along the axis the rows start.
    pub start: Dim,
    /// The same, in elements into the weight.
    pub offset: Dim,
}

/// The block write-backs, by output name.
pub type InPlaceOffsets = HashMap<String, BlockWrite>;

/// Points every output of the form above at its rows' source and returns
/// each one's blocks, by output name. The concat and the weight's slices
/// are left for dead-code elimination.
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
        if let Some(write) = block_write(ir, value, weight) {
            ir.outputs[i].1 = write.source;
            offsets.insert(name, write);
        }
    }
    offsets
}

/// The values that are the weight once its blocks are in, or its first
/// rows through a single block: `concat([slice(weight, 0, start), rows])`
/// along the block's axis, or the new weight itself. Empty unless every
/// other reader of the weight is one of the write's own slices (call after
/// dead code is gone: the slices around the blocks no longer read it once
/// nothing reads the new weight), so copying the rows in early changes
/// nothing another kernel sees.
pub fn in_place_reads(ir: &Ir, write: &BlockWrite) -> Vec<NodeId> {
    let readers = ir.users(write.weight);
    if readers.is_empty() {
        return Vec::new();
    }
    // The new weight itself, still read (its slices the attention's keys).
    if ir.graph.contains_node(write.value) && readers.iter().all(|&r| reads_into(ir, r, write.value)) {
        return vec![write.value];
    }
    let [block] = write.blocks.as_slice() else { return Vec::new() };
    let zero = Dim::new(0);
    let is_head = |n: NodeId| {
        matches!(&ir.node(n).op, Op::Slice { axis, start, end, step: 1 }
            if *axis == write.axis && *start == zero && *end == block.start)
    };
    if !readers.iter().all(|&n| is_head(n)) {
        return Vec::new();
    }
    let mut out: Vec<NodeId> = readers
        .iter()
        .flat_map(|&head| ir.users(head))
        .filter(|&c| {
            matches!(ir.node(c).op, Op::Concat { axis } if axis == write.axis)
                && matches!(ir.operands(c).as_slice(), [h, r] if is_head(*h) && *r == block.rows)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Whether `node`'s every reader is `value` or a concat on the way to it
/// (a wide concat split into parts), so that `node` is only ever read as
/// part of `value`.
fn reads_into(ir: &Ir, node: NodeId, value: NodeId) -> bool {
    let users = ir.users(node);
    !users.is_empty()
        && users.iter().all(|&u| u == value || (matches!(ir.node(u).op, Op::Concat { .. }) && reads_into(ir, u, value)))
}

/// The parts of `value` joined along `axis`, nested concats along the same
/// axis that hold a slice of `weight` taken apart (a wide concat split for
/// the kernel's buffer limit).
fn parts(ir: &Ir, value: NodeId, axis: usize, weight: NodeId) -> Vec<NodeId> {
    let slices_weight = |n: NodeId| ir.operands(n).iter().any(|&p| p == weight || slices(ir, p, weight));
    let mut out = Vec::new();
    for p in ir.operands(value) {
        match ir.node(p).op {
            Op::Concat { axis: a } if a == axis && slices_weight(p) => out.extend(parts(ir, p, axis, weight)),
            _ => out.push(p),
        }
    }
    out
}

/// Whether `n` is a slice of `weight` or a concat holding one.
fn slices(ir: &Ir, n: NodeId, weight: NodeId) -> bool {
    match ir.node(n).op {
        Op::Slice { .. } => ir.operands(n).first() == Some(&weight),
        Op::Concat { .. } => ir.operands(n).iter().any(|&p| slices(ir, p, weight)),
        _ => false,
    }
}

/// The write when `value` is `concat([slice(w, 0, s0), rows0,
/// slice(w, s0 + len0, s1), rows1, ..., slice(w, sn + lenn, size)], axis)`
/// over `w`, each block of rows contiguous in it, and every block's rows
/// views of one value.
fn block_write(ir: &Ir, value: NodeId, weight: NodeId) -> Option<BlockWrite> {
    let Op::Concat { axis } = ir.node(value).op else { return None };
    let parts = parts(ir, value, axis, weight);
    if parts.len() < 3 || parts.len().is_multiple_of(2) {
        return None;
    }
    let shape = &ir.node(weight).ty.shape;
    let slice_of_weight = |part: NodeId| match &ir.node(part).op {
        Op::Slice { axis: a, start, end, step: 1 } if *a == axis && ir.operands(part).first() == Some(&weight) => {
            Some((start.clone(), end.clone()))
        }
        _ => None,
    };
    let contiguous = shape[..axis].iter().all(|d| *d == Dim::new(1));
    let row_size = Dim::product(&shape[axis + 1..]);
    let (first_start, mut end) = slice_of_weight(parts[0])?;
    if first_start != Dim::new(0) || !contiguous {
        return None;
    }
    let mut blocks = Vec::new();
    let mut source = None;
    for pair in parts[1..].chunks(2) {
        let [rows, after] = *pair else { return None };
        let len = ir.node(rows).ty.shape.get(axis)?.clone();
        let (next_start, next_end) = slice_of_weight(after)?;
        if next_start != &end + &len || ir.node(rows).ty.dtype != ir.node(weight).ty.dtype {
            return None;
        }
        let (root, source_offset) = stored_as(ir, rows);
        // Blocks from different values would need outputs of their own.
        let root = match source {
            None => root,
            Some(s) if s == root => root,
            Some(_) => return None,
        };
        source = Some(root);
        blocks.push(Block {
            rows,
            source_offset,
            len: Dim::product(&ir.node(rows).ty.shape),
            offset: &end * &row_size,
            start: end,
        });
        end = next_end;
    }
    // One block whose rows are not a view of another value is its own source.
    (end == shape[axis]).then_some(BlockWrite { weight, value, source: source?, axis, blocks })
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
        assert_eq!(offsets["cache"].blocks[0].offset, &Dim::sym("past") * &Dim::new(4));
    }

    #[test]
    fn the_attention_s_keys_read_the_cache_once_the_rows_are_in() {
        let g = cache_graph(16);
        let mut ir = g.ir().unwrap().clone();
        let blocks = rewrite(&mut ir);
        let block = &blocks["cache"];
        // Before dead code goes, the tail slice still reads the cache.
        assert!(in_place_reads(&ir, block).is_empty());
        crate::compile::pass::Pass::run(&crate::compile::dce::DeadCode, &mut ir).unwrap();
        let reads = in_place_reads(&ir, block);
        let [seen] = reads.as_slice() else { panic!("one prefix read, got {reads:?}") };
        assert!(matches!(ir.node(*seen).op, Op::Concat { axis: 0 }));
        assert_eq!(ir.operands(*seen)[1], block.blocks[0].rows);
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
        assert!(in_place_reads(&ir, &blocks["cache"]).is_empty());
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

    /// Three slots' caches in one weight `[3 * capacity, 4]`: slot `b`'s
    /// row `rows[b]` written at `b * capacity + past_b`, and the new cache
    /// read back as every slot's first `keys` rows.
    fn slots_graph(g: &Graph, capacity: usize, rows: &[crate::graph::Value]) {
        let cache = g.weight("cache", DType::F32, [3 * capacity, 4]);
        let mut parts = vec![];
        let mut end = Dim::new(0);
        for (b, r) in rows.iter().enumerate() {
            let past = Dim::sym(format!("past{b}"));
            g.input(format!("past{b}"), DType::I64, [past.clone()]);
            let at = &Dim::new(b * capacity) + &past;
            parts.push(ops::slice(&cache, 0, end.clone(), at.clone()));
            parts.push(r.clone());
            end = &at + &Dim::new(1);
        }
        parts.push(ops::slice(&cache, 0, end, 3 * capacity));
        let updated = ops::concat(&parts.iter().collect::<Vec<_>>(), 0);
        let keys = ops::slice(&ops::reshape(&updated, [3, capacity, 4]), 1, 0, Dim::sym("keys"));
        g.output_named([("cache", updated), ("seen", ops::sum(&keys, 1, false))]).unwrap();
    }

    /// [`slots_graph`] over capacity 8 with row `b` of one batched value
    /// `new` for slot `b`: the IR and `new`.
    fn batched_slots() -> (Ir, NodeId) {
        let g = Graph::new("slots");
        let new = ops::relu(&g.input("new", DType::F32, [3usize, 4]));
        let rows: Vec<_> = (0..3).map(|b| ops::slice(&new, 0, b, b + 1)).collect();
        slots_graph(&g, 8, &rows);
        let ir = g.ir().unwrap().clone();
        (ir, new.node_id().unwrap())
    }

    #[test]
    fn every_slot_s_row_is_a_block_of_one_shared_cache() {
        let (mut ir, new) = batched_slots();
        let writes = rewrite(&mut ir);
        let write = &writes["cache"];
        assert_eq!(write.source, new, "every block is copied from the batched rows");
        let at: Vec<Dim> = write.blocks.iter().map(|b| b.offset.clone()).collect();
        let expected: Vec<Dim> =
            (0..3).map(|b| &(&Dim::new(8 * b) + &Dim::sym(format!("past{b}"))) * &Dim::new(4)).collect();
        assert_eq!(at, expected);
        let from: Vec<Dim> = write.blocks.iter().map(|b| b.source_offset.clone()).collect();
        assert_eq!(from, vec![Dim::new(0), Dim::new(4), Dim::new(8)]);
        // The keys read the new cache: the weight itself once the rows are in.
        crate::compile::pass::Pass::run(&crate::compile::dce::DeadCode, &mut ir).unwrap();
        assert_eq!(in_place_reads(&ir, write), vec![write.value]);
    }

    #[test]
    fn a_wide_write_split_into_parts_is_still_one_write() {
        let (mut ir, _) = batched_slots();
        let split = crate::compile::split_concat::SplitWideConcat { max_operands: 3 };
        crate::compile::pass::Pass::run(&split, &mut ir).unwrap();
        let writes = rewrite(&mut ir);
        assert_eq!(writes["cache"].blocks.len(), 3);
        crate::compile::pass::Pass::run(&crate::compile::dce::DeadCode, &mut ir).unwrap();
        assert_eq!(in_place_reads(&ir, &writes["cache"]), vec![writes["cache"].value]);
    }

    #[test]
    fn blocks_from_different_values_are_computed_as_a_whole() {
        let g = Graph::new("slots");
        let rows: Vec<_> = (0..3).map(|b| ops::relu(&g.input(format!("new{b}"), DType::F32, [1usize, 4]))).collect();
        slots_graph(&g, 8, &rows);
        let mut ir = g.ir().unwrap().clone();
        assert!(rewrite(&mut ir).is_empty());
    }
}
