//! Dead-node removal: drops every node no output depends on.

use super::error::CompileError;
use super::pass::Pass;
use crate::graph::{Ir, NodeId, Op};
use std::collections::HashSet;

/// The dead-node pass: keeps only what an output depends on.
pub struct DeadCode;

impl Pass for DeadCode {
    fn name(&self) -> &'static str {
        "dead-code"
    }

    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError> {
        let mut live: HashSet<NodeId> = HashSet::new();
        let mut stack: Vec<NodeId> = ir.outputs.iter().map(|(_, id)| *id).collect();
        while let Some(id) = stack.pop() {
            if live.insert(id) {
                stack.extend(ir.operands(id));
            }
        }
        // Inputs stay even when unused, so callers can pass what the graph
        // declares; so do weights an output is named after: a write-back
        // lands in them even when nothing reads them (a cache only written).
        let named: HashSet<&str> = ir.outputs.iter().map(|(name, _)| name.as_str()).collect();
        let kept = |op: &Op| match op {
            Op::Input { .. } => true,
            Op::Weight { name, .. } => named.contains(name.as_str()),
            _ => false,
        };
        let dead: Vec<NodeId> =
            ir.graph.node_indices().filter(|id| !live.contains(id) && !kept(&ir.node(*id).op)).collect();
        for id in &dead {
            ir.graph.remove_node(*id);
        }
        Ok(!dead.is_empty())
    }
}
