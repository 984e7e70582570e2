//! Common-subexpression elimination: nodes with the same op and operands
//! compute the same value; keep the first.

use super::error::CompileError;
use super::pass::Pass;
use crate::graph::{Ir, NodeId, Op};
use std::collections::HashMap;

/// The common-subexpression pass (see the module docs).
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
                    ir.replace_uses(id, keep);
                    changed = true;
                }
            }
        }
        Ok(changed)
    }
}
