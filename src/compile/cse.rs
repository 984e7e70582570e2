//! Common-subexpression elimination: nodes with the same op and operands
//! compute the same value; keep the first.

use super::error::CompileError;
use super::pass::Pass;
use crate::graph::{Edge, Ir, NodeId, Op};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::HashMap;

pub struct CommonSubexpressions;

/// A hashable identity for a node: its op rendered with all attributes
/// (constants by content) and its operands.
fn key(ir: &Ir, id: NodeId) -> Option<String> {
    let node = ir.node(id);
    match &node.op {
        // Inputs are distinct by name, weights too; large constants are not worth hashing.
        Op::Input { .. } => None,
        Op::Constant { value } if value.numel() > 64 => None,
        op => Some(format!("{op:?}|{:?}|{}", ir.operands(id), node.ty)),
    }
}

impl Pass for CommonSubexpressions {
    fn name(&self) -> &'static str {
        "cse"
    }

    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError> {
        let mut seen: HashMap<String, NodeId> = HashMap::new();
        let mut changed = false;
        for id in ir.topo_order()? {
            let Some(k) = key(ir, id) else { continue };
            match seen.get(&k) {
                None => {
                    seen.insert(k, id);
                }
                Some(&keep) => {
                    replace_uses(ir, id, keep);
                    changed = true;
                }
            }
        }
        Ok(changed)
    }
}

/// Points every reader of `old` (and any output) at `new`, then removes `old`.
pub fn replace_uses(ir: &mut Ir, old: NodeId, new: NodeId) {
    let uses: Vec<(NodeId, Edge)> =
        ir.graph.edges_directed(old, Direction::Outgoing).map(|e| (e.target(), *e.weight())).collect();
    for (target, edge) in uses {
        ir.graph.add_edge(new, target, edge);
    }
    for (_, out) in ir.outputs.iter_mut() {
        if *out == old {
            *out = new;
        }
    }
    // The surviving node keeps every name either had.
    let names: Vec<String> = ir.node(old).names().map(String::from).collect();
    for name in names {
        let node = &mut ir.graph[new];
        if node.name.is_none() {
            node.name = Some(name);
        } else if node.name.as_deref() != Some(name.as_str()) && !node.aliases.contains(&name) {
            node.aliases.push(name);
        }
    }
    ir.graph.remove_node(old);
}
