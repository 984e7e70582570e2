//! Lowering: one kernel per kernel root, in schedule order. The match is
//! over every op, so a new op cannot be forgotten here.

use super::codegen::kernels;
use super::codegen::norm_texture::norm_texture;
use super::codegen::quant_matmul::{self, MAX_ROWS_PER_INVOCATION};
use super::codegen::{attention, matmul, scatter, FewRows, KernelSpec};
use super::error::CompileError;
use super::fuse::FusionPlan;
use super::matmul_choice::{MatmulPolicy, FEW_ROWS};
use super::tier::KernelTier;
use super::tuning::TuningTable;
use crate::graph::{Ir, NodeId, Op};

/// How each matmul gets its kernel: a measured choice for its signature if
/// the table has one, else the policy's rule; then shaped by the tier.
pub struct MatmulChoices<'a> {
    pub policy: MatmulPolicy,
    pub tuning: Option<&'a TuningTable>,
    pub tier: KernelTier,
    /// Largest texture side for norms reading rows from textures (CPU
    /// drivers; 0: never).
    pub row_textures: u32,
    /// Short softmax and reduction rows one per invocation (CPU drivers).
    pub short_rows: bool,
    /// Largest texture side for activations copied into textures before
    /// a dispatch (CPU drivers; 0: never), whether or not weights are.
    pub activation_textures: u32,
}

impl MatmulChoices<'_> {
    fn pick(&self, ir: &Ir, mm: NodeId) -> super::codegen::MatmulKernel {
        let textures = self.policy.max_texture_side > 0;
        let measured = self.tuning.and_then(|t| t.matmul_for(ir, mm, textures));
        self.tier.matmul(measured.unwrap_or_else(|| self.policy.pick(ir, mm)))
    }
}

pub fn lower(
    ir: &Ir,
    plan: &FusionPlan,
    order: &[NodeId],
    choices: &MatmulChoices<'_>,
    row_wg: u32,
    subgroups: bool,
) -> Result<Vec<KernelSpec>, CompileError> {
    plan.roots(ir, order)
        .into_iter()
        .map(|root| {
            let mut spec = lower_root(ir, plan, root, choices, row_wg, subgroups)?;
            spec.word_textures = word_textures(ir, plan, &spec.inputs);
            Ok(spec)
        })
        .collect()
}

fn lower_root(
    ir: &Ir,
    plan: &FusionPlan,
    root: NodeId,
    choices: &MatmulChoices<'_>,
    row_wg: u32,
    subgroups: bool,
) -> Result<KernelSpec, CompileError> {
    let tier = choices.tier;
    // A matmul fused into the elementwise chain rooted here.
    if let Some((&mm, _)) = plan.epilogue.iter().find(|(_, &r)| r == root) {
        return matmul_with_variants(ir, plan, mm, root, choices);
    }
    match &ir.node(root).op {
        Op::MatMul => matmul_with_variants(ir, plan, root, root, choices),
        Op::Conv1d { stride, padding, dilation, groups } => kernels::conv1d(
            ir,
            plan,
            root,
            kernels::ConvShape { stride: *stride, padding: *padding, dilation: *dilation, groups: *groups },
        ),
        Op::Row(r) => norm_texture(ir, plan, root, *r, choices.row_textures, row_wg)
            .unwrap_or_else(|| kernels::row(ir, plan, root, *r, row_wg, choices.short_rows)),
        Op::ScatterAdd { axis, .. } => scatter::scatter_add(ir, plan, root, *axis, row_wg),
        Op::Attention { scale, rows_first, .. } => {
            let layout =
                attention::Layout { scale: *scale, rows_first: *rows_first, max_texture_side: choices.row_textures };
            attention::attention(ir, plan, root, layout, row_wg, tier, subgroups)
        }
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
        | Op::Concat { .. } => kernels::elementwise(ir, plan, root, choices.row_textures),
    }
}

/// The matmul kernel `policy` picks for `mm` (its epilogue ending at
/// `root`) and, when its row count is symbolic, the matrix-vector variant
/// for runs with few rows, if it binds the same buffers.
fn matmul_with_variants(
    ir: &Ir,
    plan: &FusionPlan,
    mm: NodeId,
    root: NodeId,
    choices: &MatmulChoices<'_>,
) -> Result<KernelSpec, CompileError> {
    if quant_matmul::reads_quantized(ir, plan, mm) {
        // Weights stay quantized only where this kernel can read them
        // (`keep_quantized`); it refuses any other view of one.
        let rows = matmul_rows(ir, mm);
        let tm = rows.map_or(MAX_ROWS_PER_INVOCATION, |r| (r as u32).clamp(1, MAX_ROWS_PER_INVOCATION));
        return quant_matmul::quant_matmul(ir, plan, mm, root, tm, choices.activation_textures);
    }
    let policy = choices.policy;
    let kernel = choices.pick(ir, mm);
    let mut spec = matmul::matmul(ir, plan, mm, root, kernel, policy.max_texture_side)?;
    if let Some((rows, kernel)) = policy.few_rows_variant(ir, mm) {
        let small = matmul::matmul(ir, plan, mm, root, kernel, policy.max_texture_side)?;
        let same_bindings =
            small.inputs == spec.inputs && small.textures == spec.textures && small.params == spec.params;
        if same_bindings && small.wgsl != spec.wgsl {
            spec.few_rows = Some(FewRows { rows, max_rows: FEW_ROWS, wgsl: small.wgsl, grid: small.grid });
        }
    }
    Ok(spec)
}

/// A matmul's output rows (every axis but the last), when static.
fn matmul_rows(ir: &Ir, mm: NodeId) -> Option<usize> {
    let shape = &ir.node(mm).ty.shape;
    crate::graph::Dim::product(&shape[..shape.len().saturating_sub(1)]).as_static()
}

/// The inputs a kernel binds as rgba32uint textures: quantized weights
/// held so (the binding its WGSL declares, see `bindings_typed`).
fn word_textures(ir: &Ir, plan: &FusionPlan, inputs: &[NodeId]) -> Vec<NodeId> {
    inputs.iter().copied().filter(|&n| super::codegen::word_texture_width(ir, plan, n).is_some()).collect()
}
