//! The reverse sweep: which nodes need a gradient, then one pass over them
//! in reverse topological order, each summing the gradient contributions of
//! its users and handing it to its op's rule (`rules::vjp`).
//!
//! Every backward node is built under the location of the forward node it
//! derives from (the sum of contributions under the node whose gradient it
//! is, a rule's ops under the node whose rule it is), so errors and dumps
//! point at the user's model code, not at this file.

use super::error::AutodiffError;
use super::rules::vjp;
use super::unbroadcast::zeros_like;
use super::vjp::Vjp;
use crate::graph::{ops, Graph, GraphError, Ir, Node, NodeId, Op, Value};
use std::collections::{HashMap, HashSet};

/// How a node is called in messages: its name, input or weight name, or `%index`.
pub(crate) fn describe(node: &Node, id: NodeId) -> String {
    match (&node.op, &node.name) {
        (_, Some(name)) => format!("`{name}`"),
        (Op::Input { name, .. }, None) => format!("input `{name}`"),
        (Op::Weight { name, .. }, None) => format!("weight `{name}`"),
        (op, None) => format!("%{} ({op})", id.index()),
    }
}

/// The names a node's gradient is published under, `grad/<name>`: the
/// node's module paths, and the input or weight name of a source.
fn grad_names(node: &Node) -> Vec<String> {
    let mut names: Vec<String> = node.names().map(|n| format!("grad/{n}")).collect();
    if let Op::Input { name, .. } | Op::Weight { name, .. } = &node.op {
        let n = format!("grad/{name}");
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

/// The gradient of `loss` for each of `wrt`, and whether it reached it.
pub(crate) fn sweep(graph: &Graph, loss: NodeId, wrt: &[NodeId]) -> Result<Vec<(Value, bool)>, AutodiffError> {
    // A snapshot of the forward graph: the rules append to the live one.
    let ir: Ir = graph.ir_unchecked().clone();
    let order = ir.topo_order()?;

    // Nodes the loss reads, directly or not.
    let mut reaches_loss = HashSet::from([loss]);
    let mut stack = vec![loss];
    while let Some(id) = stack.pop() {
        for o in ir.operands(id) {
            if reaches_loss.insert(o) {
                stack.push(o);
            }
        }
    }
    // Float nodes on a path from a parameter to the loss.
    let targets: HashSet<NodeId> = wrt.iter().copied().collect();
    let mut needs: HashSet<NodeId> = HashSet::new();
    for &id in &order {
        let node = ir.node(id);
        let on_path = targets.contains(&id) || ir.operands(id).iter().any(|o| needs.contains(o));
        if on_path && node.ty.dtype.is_float() && reaches_loss.contains(&id) {
            needs.insert(id);
        }
    }

    let mut pending: HashMap<NodeId, Vec<Value>> = HashMap::new();
    let mut grads: HashMap<NodeId, Value> = HashMap::new();
    if needs.contains(&loss) {
        let node = ir.node(loss);
        let seed = graph.with_location(node.location, || {
            ops::expand(&ops::scalar(graph, 1.0, node.ty.dtype), node.ty.shape.clone())
        });
        pending.insert(loss, vec![seed]);
    }
    for &id in order.iter().rev() {
        if !needs.contains(&id) {
            continue;
        }
        // No contribution: the node reaches the loss only through
        // non-differentiable ops (an argmax, a cast to int).
        let Some(parts) = pending.remove(&id) else { continue };
        let node = ir.node(id);
        let g = graph.with_location(node.location, || {
            let mut parts = parts.into_iter();
            let first = parts.next().expect("pending lists are never empty");
            parts.fold(first, |acc, p| &acc + &p)
        });
        let g = grad_names(node).into_iter().fold(g, Value::named);
        check(&g, node, id)?;
        grads.insert(id, g.clone());

        let operands = ir.operands(id);
        let wants: Vec<bool> = operands.iter().map(|o| needs.contains(o)).collect();
        if !wants.contains(&true) {
            continue;
        }
        let value = |n: NodeId| graph.value(n).expect("the snapshot's nodes are in the graph");
        let xs: Vec<Value> = operands.iter().map(|&o| value(o)).collect();
        let y = value(id);
        let outs =
            graph.with_location(node.location, || vjp(&Vjp { op: &node.op, xs: &xs, y: &y, g: &g, wants: &wants }));
        for (slot, (&operand, out)) in operands.iter().zip(outs).enumerate() {
            let Some(gx) = out else { continue };
            if !wants[slot] {
                continue;
            }
            check(&gx, node, id)?;
            let want = &ir.node(operand).ty;
            if gx.ty().as_ref() != Some(want) {
                return Err(rule_error(
                    node,
                    id,
                    GraphError::Verify {
                        node: id.index(),
                        op: node.op.name(),
                        location: node.location,
                        detail: format!("operand {slot}'s gradient has type {:?}, the operand {want}", gx),
                    },
                ));
            }
            pending.entry(operand).or_default().push(gx);
        }
    }

    Ok(wrt
        .iter()
        .map(|id| match grads.get(id) {
            Some(g) => (g.clone(), true),
            None => {
                let node = ir.node(*id);
                let x = graph.value(*id).expect("parameters are in the graph");
                let z = graph.with_location(node.location, || zeros_like(&x));
                (grad_names(node).into_iter().fold(z, Value::named), false)
            }
        })
        .collect())
}

fn rule_error(node: &Node, id: NodeId, source: GraphError) -> AutodiffError {
    AutodiffError::Rule {
        value: describe(node, id),
        op: node.op.name(),
        location: node.location,
        source: Box::new(source),
    }
}

/// A poisoned backward value is a bug in a rule: report it against the
/// forward node.
fn check(v: &Value, node: &Node, id: NodeId) -> Result<(), AutodiffError> {
    match v.clone().checked() {
        Ok(_) => Ok(()),
        Err(e) => Err(rule_error(node, id, e)),
    }
}
