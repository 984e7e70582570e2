//! Lowering: one kernel per kernel root, in schedule order.

use super::codegen::{kernels, matmul, KernelSpec};
use super::fuse::FusionPlan;
use super::matmul_choice::MatmulPolicy;
use crate::graph::{Ir, NodeId, OpFamily};

pub fn lower(ir: &Ir, plan: &FusionPlan, order: &[NodeId], matmul: MatmulPolicy) -> Vec<KernelSpec> {
    plan.roots(ir, order)
        .into_iter()
        .map(|root| {
            if let Some((&mm, _)) = plan.epilogue.iter().find(|(_, &r)| r == root) {
                return matmul::matmul(ir, plan, mm, root, matmul.pick(ir, mm), matmul.max_texture_side);
            }
            match ir.node(root).op.family() {
                OpFamily::MatMul => matmul::matmul(ir, plan, root, root, matmul.pick(ir, root), matmul.max_texture_side),
                OpFamily::Row => kernels::row(ir, plan, root),
                OpFamily::Convolution => kernels::conv1d(ir, plan, root),
                OpFamily::Source | OpFamily::Generator | OpFamily::Elementwise | OpFamily::Movement => {
                    kernels::elementwise(ir, plan, root)
                }
            }
        })
        .collect()
}
