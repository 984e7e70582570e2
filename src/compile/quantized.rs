//! Which weights stay in their quantized blocks on the device: those every
//! reader of which dequantizes as it loads (a Linear's `x @ Wᵀ`, an
//! embedding lookup). Any other use (a weight read untransposed by a
//! matmul, a norm's gamma, a weight the graph returns) keeps the weight as
//! f32, dequantized once on the host, so a graph never fails for being
//! quantized.

use crate::graph::{Ir, NodeId, Op, Quant};

/// Marks the 2-D weights `quant_of` gives a block format as kept in it,
/// where every reader can read them so; returns how many were marked.
pub fn keep_quantized(ir: &mut Ir, quant_of: impl Fn(&str) -> Option<Quant>) -> usize {
    let outputs: Vec<NodeId> = ir.outputs.iter().map(|(_, n)| *n).collect();
    let mut marked = 0;
    for id in ir.weights() {
        let Op::Weight { name, .. } = &ir.node(id).op else { continue };
        let Some(q) = quant_of(name) else { continue };
        let fits = match ir.node(id).ty.shape.as_slice() {
            [rows, cols] => {
                rows.as_static().is_some() && cols.as_static().is_some_and(|c| c > 0 && c % q.block_elements() == 0)
            }
            _ => false,
        };
        if fits && !outputs.contains(&id) && ir.users(id).iter().all(|&u| reads_blocks(ir, id, u)) {
            if let Op::Weight { quant, .. } = &mut ir.graph[id].op {
                *quant = Some(q);
                marked += 1;
            }
        }
    }
    marked
}

/// Whether `user` reads the weight `w` in a way the quantized kernels
/// handle: `Wᵀ` as the B operand of matmuls only, or rows gathered.
fn reads_blocks(ir: &Ir, w: NodeId, user: NodeId) -> bool {
    match &ir.node(user).op {
        Op::Permute { perm } if perm.as_slice() == [1, 0] => {
            let users = ir.users(user);
            !users.is_empty()
                && !ir.outputs.iter().any(|(_, n)| *n == user)
                && users.iter().all(|&mm| {
                    let ops = ir.operands(mm);
                    matches!(ir.node(mm).op, Op::MatMul) && ops.first() != Some(&user) && ops.get(1) == Some(&user)
                })
        }
        Op::Gather { axis: 0 } => ir.operands(user).first() == Some(&w),
        _ => false,
    }
}

/// Whether any weight of `ir` is kept quantized.
pub fn has_quantized(ir: &Ir) -> bool {
    ir.weights().iter().any(|&w| matches!(ir.node(w).op, Op::Weight { quant: Some(_), .. }))
}
