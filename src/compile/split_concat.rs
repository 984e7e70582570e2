//! Concatenations of more values than a kernel can bind: a concat reads
//! each operand from its own storage buffer, and adapters allow few per
//! shader stage (8 to 32). Such a concat becomes a tree of concats of at
//! most `max_operands` each (a global gradient norm concatenates every
//! parameter's gradient, easily 40).

use super::error::CompileError;
use super::pass::Pass;
use crate::graph::{Dim, Ir, Node, NodeId, Op, TensorType};

/// The rewrite, for kernels binding at most `max_operands` inputs.
pub struct SplitWideConcat {
    /// The most operands one concat may keep.
    pub max_operands: usize,
}

impl Pass for SplitWideConcat {
    fn name(&self) -> &'static str {
        "split-wide-concat"
    }

    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError> {
        let k = self.max_operands.max(2);
        let wide: Vec<NodeId> = ir
            .graph
            .node_indices()
            .filter(|&id| matches!(ir.node(id).op, Op::Concat { .. }) && ir.operands(id).len() > k)
            .collect();
        for &id in &wide {
            let Op::Concat { axis } = ir.node(id).op else { continue };
            let mut operands = ir.operands(id);
            while operands.len() > k {
                operands = operands.chunks(k).map(|chunk| concat_node(ir, id, axis, chunk)).collect();
            }
            let top = concat_node(ir, id, axis, &operands);
            ir.replace_uses(id, top);
        }
        Ok(!wide.is_empty())
    }
}

/// A concat of `parts` along `axis`, typed and located like `like`.
fn concat_node(ir: &mut Ir, like: NodeId, axis: usize, parts: &[NodeId]) -> NodeId {
    if parts.len() == 1 {
        return parts[0];
    }
    let first = ir.node(parts[0]).ty.clone();
    let length = parts.iter().fold(Dim::new(0), |acc, &p| &acc + &ir.node(p).ty.shape[axis]);
    let mut shape = first.shape.clone();
    shape[axis] = length;
    let node = Node {
        op: Op::Concat { axis },
        ty: TensorType::new(first.dtype, shape),
        name: None,
        aliases: Vec::new(),
        location: ir.node(like).location,
    };
    ir.add_node(node, parts)
}
