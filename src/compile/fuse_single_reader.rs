//! Small values read several times by one kernel are computed inside it.
//!
//! Fusion gives every value with several readers a buffer, so that it is
//! computed once. When all those readers sit in one elementwise kernel the
//! buffer buys nothing: the value is one or two arithmetic ops per element
//! away from buffers that kernel can read itself, and its own kernel is a
//! dispatch. The case that matters: a clipped gradient `g * coef` read three
//! times by its parameter's AdamW update (the lerp of `exp_avg`, the square
//! in `exp_avg_sq`), one small kernel per parameter before every update.

use super::fuse::{leaves, members, FusionPlan};
use crate::graph::{Ir, NodeId, Op, OpFamily};
use std::collections::{HashMap, HashSet};

/// The most nodes a value may take to compute for its readers to recompute
/// it: each read computes it again.
const MAX_NODES: usize = 3;

/// Un-materialises every small elementwise value (see the module docs)
/// whose readers are all in one plain elementwise kernel, while that
/// kernel's buffers stay within `max_buffers`.
pub(super) fn inline_single_reader_values(
    ir: &Ir,
    order: &[NodeId],
    keep: &HashSet<NodeId>,
    max_buffers: u32,
    plan: &mut FusionPlan,
) {
    let outputs: HashSet<NodeId> = ir.outputs.iter().map(|(_, n)| *n).collect();
    let roots = plan.roots(ir, order);
    // Which kernels read each buffer.
    let mut readers: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
    for &r in &roots {
        for leaf in leaves(ir, r, plan) {
            readers.entry(leaf).or_default().push(r);
        }
    }
    let epilogue_roots: HashSet<NodeId> = plan.epilogue.values().copied().collect();
    let plain_elementwise = |n: NodeId| ir.node(n).op.family() == OpFamily::Elementwise && !epilogue_roots.contains(&n);
    for &n in &roots {
        // A root that writes co-outputs is their kernel: it stays.
        let candidate = plain_elementwise(n)
            && !outputs.contains(&n)
            && !keep.contains(&n)
            && !plan.co_outputs.values().any(|&root| root == n)
            && members(ir, n, plan).len() <= MAX_NODES;
        if !candidate {
            continue;
        }
        let reader = match readers.get(&n).map(Vec::as_slice) {
            Some(&[r]) if plain_elementwise(r) => r,
            _ => continue,
        };
        let own = leaves(ir, n, plan);
        // A weight may be written in place while the run goes on (a cache's
        // new rows): read later, by the reader, it could hold other values.
        if own.iter().any(|&l| matches!(ir.node(l).op, Op::Weight { .. })) {
            continue;
        }
        plan.materialised.remove(&n);
        let co_outputs = plan.co_outputs.values().filter(|&&r| r == reader).count();
        if leaves(ir, reader, plan).len() + co_outputs + 2 > max_buffers as usize {
            plan.materialised.insert(n);
            continue;
        }
        for leaf in own {
            let list = readers.entry(leaf).or_default();
            list.retain(|&r| r != n);
            if !list.contains(&reader) {
                list.push(reader);
            }
        }
    }
}
