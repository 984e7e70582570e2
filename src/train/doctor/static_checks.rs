//! Checks made when a training step is built, from the graph alone:
//! parameters that cannot learn, weights left out of the optimizer, inputs
//! the loss ignores.

use super::finding::Finding;
use crate::graph::{Ir, NodeId, Op};
use std::collections::HashSet;

/// Every node the loss reads, directly or not (the loss included).
pub(crate) fn ancestors(ir: &Ir, of: NodeId) -> HashSet<NodeId> {
    let mut seen = HashSet::from([of]);
    let mut stack = vec![of];
    while let Some(id) = stack.pop() {
        for o in ir.operands(id) {
            if seen.insert(o) {
                stack.push(o);
            }
        }
    }
    seen
}

/// Every node reading `from`, directly or not.
fn descendants(ir: &Ir, from: NodeId) -> HashSet<NodeId> {
    let mut seen = HashSet::new();
    let mut stack = vec![from];
    while let Some(id) = stack.pop() {
        for u in ir.users(id) {
            if seen.insert(u) {
                stack.push(u);
            }
        }
    }
    seen
}

/// How the doctor names a node: its module path, else its op and line.
pub(crate) fn describe(ir: &Ir, id: NodeId) -> String {
    let node = ir.node(id);
    match &node.name {
        Some(name) => format!("`{name}` ({}, built at {})", node.op.name(), node.location),
        None => format!("%{} ({}, built at {})", id.index(), node.op.name(), node.location),
    }
}

fn weight_name(ir: &Ir, id: NodeId) -> String {
    if let Op::Weight { name, .. } = &ir.node(id).op {
        name.clone()
    } else {
        format!("%{}", id.index())
    }
}

/// The findings for `params` (with whether autodiff reached each) of the
/// forward graph `ir` whose loss is `loss`.
pub(crate) fn static_findings(ir: &Ir, loss: NodeId, params: &[NodeId], reached: &[bool]) -> Vec<Finding> {
    let upstream = ancestors(ir, loss);
    let order = ir.topo_order().unwrap_or_default();
    let mut out = Vec::new();
    for (&p, &reaches) in params.iter().zip(reached) {
        if reaches {
            continue;
        }
        let param = weight_name(ir, p);
        if !upstream.contains(&p) {
            out.push(Finding::Unreachable { param });
            continue;
        }
        // A path exists, but gradients stop: the first node on it whose
        // value is not a float (a comparison, an argmax, a cast to an integer).
        let on_path: HashSet<NodeId> = descendants(ir, p).intersection(&upstream).copied().collect();
        let blocker = order.iter().copied().find(|n| on_path.contains(n) && !ir.node(*n).ty.dtype.is_float());
        match blocker {
            Some(b) => out.push(Finding::BlockedGradient { param, op: ir.node(b).op.name(), node: describe(ir, b) }),
            None => out.push(Finding::Unreachable { param }),
        }
    }
    let given: HashSet<NodeId> = params.iter().copied().collect();
    for w in ir.weights() {
        let node = ir.node(w);
        let Op::Weight { name, .. } = &node.op else { continue };
        if !given.contains(&w) && node.ty.dtype.is_float() && !name.starts_with("optimizer.") && upstream.contains(&w) {
            out.push(Finding::Frozen { param: name.clone() });
        }
    }
    for i in ir.inputs() {
        if let Op::Input { name, .. } = &ir.node(i).op {
            if !upstream.contains(&i) && !name.starts_with("optimizer.") {
                out.push(Finding::UnusedInput { input: name.clone() });
            }
        }
    }
    out
}
