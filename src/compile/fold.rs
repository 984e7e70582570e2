//! Constant folding: a node whose operands are all constants becomes a
//! constant, computed by the reference interpreter's own kernels (so folding
//! can never disagree with the oracle).

use super::error::CompileError;
use super::pass::Pass;
use crate::graph::{Bindings, Ir, Node, Op, Tensor};
use std::sync::Arc;

/// The constant-folding pass (see the module docs).
pub struct ConstantFold;

/// Folded results larger than this stay computed on the GPU instead of
/// bloating the graph.
const MAX_FOLDED_ELEMENTS: usize = 1 << 16;

impl Pass for ConstantFold {
    fn name(&self) -> &'static str {
        "constant-fold"
    }

    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError> {
        let mut changed = false;
        let empty = Bindings::new();
        for id in ir.topo_order()? {
            let node = ir.node(id);
            if node.op.is_source() {
                continue;
            }
            let operands = ir.operands(id);
            let values: Vec<&Tensor> = operands
                .iter()
                .filter_map(|o| if let Op::Constant { value } = &ir.node(*o).op { Some(value.as_ref()) } else { None })
                .collect();
            if values.len() != operands.len() {
                continue;
            }
            let Some(shape) = node.ty.shape.iter().map(|d| d.as_static()).collect::<Option<Vec<usize>>>() else {
                continue;
            };
            if shape.iter().product::<usize>() > MAX_FOLDED_ELEMENTS {
                continue;
            }
            let call = crate::interp::NodeCall { op: &node.op, operands: values, out_shape: shape, bindings: &empty };
            // A value error (e.g. an out-of-range constant index) is left for
            // run time, where it is reported against the node.
            let Ok(value) = crate::interp::eval_node(call) else { continue };
            let folded = Node {
                op: Op::Constant { value: Arc::new(value) },
                ty: node.ty.clone(),
                name: node.name.clone(),
                aliases: node.aliases.clone(),
                location: node.location,
            };
            let new = ir.add_node(folded, &[]);
            ir.replace_uses(id, new);
            changed = true;
        }
        Ok(changed)
    }
}
