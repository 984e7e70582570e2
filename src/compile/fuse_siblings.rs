//! Independent same-shaped output kernels run as one.
//!
//! An optimizer step ends with one small elementwise kernel per parameter
//! (its update, with the moments as co-outputs), each a graph output that
//! nothing in the program reads, and each a dispatch of its own. Kernels
//! like that whose outputs have one shape share a kernel: the latest in
//! execution order computes the others as co-outputs at the same index,
//! while its buffers stay within the adapter's budget. Every value is
//! computed by the same expression as before; only the dispatches merge.

use super::fuse::{leaves, FusionPlan};
use crate::graph::{Dim, Ir, NodeId, OpFamily};
use std::collections::{HashMap, HashSet};

/// Merges the kernels of outputs nothing reads (see the module docs),
/// except `excluded` ones (taps, rows written into a weight in place).
pub(super) fn merge_output_siblings(
    ir: &Ir,
    order: &[NodeId],
    excluded: &HashSet<NodeId>,
    max_buffers: u32,
    plan: &mut FusionPlan,
) {
    let outputs: HashSet<NodeId> = ir.outputs.iter().map(|(_, n)| *n).collect();
    let epilogue_roots: HashSet<NodeId> = plan.epilogue.values().copied().collect();
    let mut groups: Vec<(Vec<Dim>, Vec<NodeId>)> = Vec::new();
    for root in plan.roots(ir, order) {
        let eligible = ir.node(root).op.family() == OpFamily::Elementwise
            && outputs.contains(&root)
            && ir.users(root).is_empty()
            && !excluded.contains(&root)
            && !epilogue_roots.contains(&root);
        if !eligible {
            continue;
        }
        let shape = ir.node(root).ty.shape.clone();
        match groups.iter_mut().find(|(s, _)| *s == shape) {
            Some((_, members)) => members.push(root),
            None => groups.push((shape, vec![root])),
        }
    }
    for (_, members) in groups {
        // Execution order: the latest root runs after every other's
        // operands exist, so it can compute them all.
        let mut pending: Vec<NodeId> = members;
        while let Some(leader) = pending.pop() {
            let mut rest = Vec::new();
            while let Some(sibling) = pending.pop() {
                if !join(ir, leader, sibling, max_buffers, plan) {
                    rest.push(sibling);
                }
            }
            rest.reverse();
            pending = rest;
        }
    }
}

/// Moves `sibling`'s kernel (it and its co-outputs) into `leader`'s, unless
/// the kernel would bind more than `max_buffers` buffers.
fn join(ir: &Ir, leader: NodeId, sibling: NodeId, max_buffers: u32, plan: &mut FusionPlan) -> bool {
    let moved: Vec<NodeId> = std::iter::once(sibling)
        .chain(plan.co_outputs.iter().filter(|(_, &r)| r == sibling).map(|(&c, _)| c))
        .collect();
    let before: HashMap<NodeId, Option<NodeId>> =
        moved.iter().map(|&n| (n, plan.co_outputs.get(&n).copied())).collect();
    for &n in &moved {
        plan.co_outputs.insert(n, leader);
    }
    let co_outputs = plan.co_outputs.values().filter(|&&r| r == leader).count();
    if leaves(ir, leader, plan).len() + co_outputs + 2 <= max_buffers as usize {
        return true;
    }
    for (n, was) in before {
        match was {
            Some(r) => plan.co_outputs.insert(n, r),
            None => plan.co_outputs.remove(&n),
        };
    }
    false
}
