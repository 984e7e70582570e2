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
        // Inputs stay even when unused, so callers can pass what the graph declares.
        let dead: Vec<NodeId> = ir
            .graph
            .node_indices()
            .filter(|id| !live.contains(id) && !matches!(ir.node(*id).op, Op::Input { .. }))
            .collect();
        for id in &dead {
            ir.graph.remove_node(*id);
        }
        Ok(!dead.is_empty())
    }
}
