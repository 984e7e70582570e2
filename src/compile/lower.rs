//! Lowering: one kernel per kernel root, in schedule order. The match is
//! over every op, so a new op cannot be forgotten here.

use super::codegen::kernels;
use super::codegen::{attention, matmul, KernelSpec};
use super::error::CompileError;
use super::fuse::FusionPlan;
use super::matmul_choice::MatmulPolicy;
use crate::graph::{Ir, NodeId, Op};

pub fn lower(
    ir: &Ir,
    plan: &FusionPlan,
    order: &[NodeId],
    policy: MatmulPolicy,
    row_wg: u32,
) -> Result<Vec<KernelSpec>, CompileError> {
    plan.roots(ir, order).into_iter().map(|root| lower_root(ir, plan, root, policy, row_wg)).collect()
}

fn lower_root(
    ir: &Ir,
    plan: &FusionPlan,
    root: NodeId,
    policy: MatmulPolicy,
    row_wg: u32,
) -> Result<KernelSpec, CompileError> {
    let texture_side = policy.max_texture_side;
    // A matmul fused into the elementwise chain rooted here.
    if let Some((&mm, _)) = plan.epilogue.iter().find(|(_, &r)| r == root) {
        return matmul::matmul(ir, plan, mm, root, policy.pick(ir, mm), texture_side);
    }
    match &ir.node(root).op {
        Op::MatMul => matmul::matmul(ir, plan, root, root, policy.pick(ir, root), texture_side),
        Op::Conv1d { stride, padding, dilation, groups } => kernels::conv1d(
            ir,
            plan,
            root,
            kernels::ConvShape { stride: *stride, padding: *padding, dilation: *dilation, groups: *groups },
        ),
        Op::Row(r) => kernels::row(ir, plan, root, *r, row_wg),
        Op::ScatterAdd { axis, .. } => kernels::scatter_add(ir, plan, root, *axis, row_wg),
        Op::Attention { scale, .. } => attention::attention(ir, plan, root, *scale, row_wg),
        // Everything computable per output element: one fused expression.
        Op::Input { .. }
        | Op::Weight { .. }
        | Op::Constant { .. }
        | Op::Range { .. }
        | Op::BandMask { .. }
        | Op::Unary(_)
        | Op::Binary(_)
        | Op::Compare(_)
        | Op::Where
        | Op::Cast(_)
        | Op::Permute { .. }
        | Op::Reshape { .. }
        | Op::Expand { .. }
        | Op::Gather { .. }
        | Op::Slice { .. }
        | Op::Concat { .. } => kernels::elementwise(ir, plan, root),
    }
}
