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

#[cfg(test)]
mod tests {
    use crate::graph::{ops, DType, Graph, GraphError, Op, RowOp};

    fn graph() -> Graph {
        let g = Graph::new("g");
        let x = g.input("x", DType::F32, [2usize, 4]);
        let (w, b) = (g.weight("ln.weight", DType::F32, [4usize]), g.weight("ln.bias", DType::F32, [4usize]));
        let y = ops::layer_norm(&x, &w, &b, 1e-5).named("ln");
        let s = ops::sum(&y, 1, false).named("pool");
        g.output_named([("y", ops::tanh(&y)), ("s", s)]).unwrap();
        g
    }

    #[test]
    fn bypass_reroutes_every_reader_and_output_and_drops_the_name() {
        let mut ir = graph().ir().unwrap().clone();
        ir.bypass("ln", 0).unwrap();
        assert!(ir.find_named("ln").is_none());
        let x = ir.inputs()[0];
        let pool = ir.find_named("pool").unwrap();
        assert_eq!(ir.operands(pool), [x], "the sum now reads the input");
        assert!(ir.graph.node_indices().all(|n| !matches!(ir.node(n).op, Op::Row(RowOp::LayerNorm { .. }))));
    }

    #[test]
    fn bypass_refuses_unknown_names_missing_operands_and_type_changes() {
        let mut ir = graph().ir().unwrap().clone();
        let err = |e: GraphError| e.to_string();
        assert_eq!(err(ir.bypass("lm", 0).unwrap_err()), "graph edit: no value is named `lm`");
        assert!(err(ir.bypass("ln", 3).unwrap_err()).contains("there is no operand 3"));
        // The sum's input is [2, 4]; the sum is [2]: passing it through would change the type.
        assert!(err(ir.bypass("pool", 0).unwrap_err()).contains("would change the type"));
        ir.verify().unwrap();
    }
}
