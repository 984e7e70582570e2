//! Rewrites of a built graph: the passes merge equal values with
//! [`Ir::replace_uses`]; users run ablations ("what does the model compute
//! without this LayerNorm?") with [`Ir::bypass`], and the bug zoo seeds
//! porting bugs the same way.

use super::error::GraphError;
use super::ir::{Edge, Ir, NodeId};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

impl Ir {
    /// The node carrying `name`, as primary name or alias.
    pub fn find_named(&self, name: &str) -> Option<NodeId> {
        self.graph.node_indices().find(|&id| self.graph[id].names().any(|n| n == name))
    }

    /// Points every reader of `old` (and any output) at `new`, then removes
    /// `old`. `new` computes the same value, so it takes over `old`'s names.
    pub fn replace_uses(&mut self, old: NodeId, new: NodeId) {
        self.redirect(old, new);
        let names: Vec<String> = self.node(old).names().map(String::from).collect();
        for name in names {
            let node = &mut self.graph[new];
            if node.name.is_none() {
                node.name = Some(name);
            } else if node.name.as_deref() != Some(name.as_str()) && !node.aliases.contains(&name) {
                node.aliases.push(name);
            }
        }
        self.graph.remove_node(old);
    }

    /// Removes the node named `name`, its readers reading its operand
    /// `slot` instead (a LayerNorm bypassed passes its input through). The
    /// names go with the node: the value is no longer that module's output.
    /// Operands only the removed node read are left for dead-node removal.
    pub fn bypass(&mut self, name: &str, slot: usize) -> Result<(), GraphError> {
        let id =
            self.find_named(name).ok_or_else(|| GraphError::Edit { detail: format!("no value is named `{name}`") })?;
        let operands = self.operands(id);
        let through = *operands.get(slot).ok_or_else(|| GraphError::Edit {
            detail: format!(
                "`{name}` is a {} with {} operands; there is no operand {slot}",
                self.node(id).op.name(),
                operands.len()
            ),
        })?;
        if self.node(through).ty != self.node(id).ty {
            return Err(GraphError::Edit {
                detail: format!(
                    "`{name}` is {} but its operand {slot} is {}; bypassing it would change the type",
                    self.node(id).ty,
                    self.node(through).ty
                ),
            });
        }
        self.redirect(id, through);
        self.graph.remove_node(id);
        self.verify()
    }

    fn redirect(&mut self, old: NodeId, new: NodeId) {
        let uses: Vec<(NodeId, Edge)> =
            self.graph.edges_directed(old, Direction::Outgoing).map(|e| (e.target(), *e.weight())).collect();
        for (target, edge) in uses {
            self.graph.add_edge(new, target, edge);
        }
        for (_, out) in self.outputs.iter_mut() {
            if *out == old {
                *out = new;
            }
        }
    }
}
