//! Write-backs that replace a few rows of a large weight. A KV cache grows
//! by one token per decode step: the graph says so functionally, as the
//! new cache `concat([cache[..start], rows, cache[start + len..]])` written
//! back under the cache's name, and computing that concat would copy the
//! whole cache every step. When the written-back value has exactly that
//! form (the rows one contiguous block of the weight: every axis before
//! the joined one of size 1), the output becomes `rows` itself and the
//! runtime copies it into the weight's buffer at the block's offset.

use crate::graph::{Dim, Ir, NodeId, Op};
use std::collections::HashMap;

/// Where an in-place write-back lands: element offset into the weight.
pub type InPlaceOffsets = HashMap<String, Dim>;

/// Points every output of the form above at its rows and returns each
/// one's element offset into its weight, by output name. The concat and
/// the tail slice are left for dead-code elimination.
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
        if let Some((rows, offset)) = block_write(ir, value, weight) {
            ir.outputs[i].1 = rows;
            offsets.insert(name, offset);
        }
    }
    offsets
}

/// `(rows, element offset)` when `value` is
/// `concat([slice(w, 0, s), rows, slice(w, s + len(rows), size)], axis)`
/// over `w` and the rows are one contiguous block of it.
fn block_write(ir: &Ir, value: NodeId, weight: NodeId) -> Option<(NodeId, Dim)> {
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
    (joined && contiguous && same_type).then(|| (*rows, &head_end * &Dim::product(&shape[axis + 1..])))
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
        assert_eq!(offsets["cache"], &Dim::sym("past") * &Dim::new(4));
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
