//! Products with a weight kept in ggml's quantized blocks: `x @ Wᵀ` (every
//! Linear, a tied LM head) where W dequantizes inside the kernel,
//! 32 values at a time, never as an f32 copy (shaders/matmul_quant.wgsl).

use super::bindings::{bindings_typed, quantized_weight};
use super::expr::ExprBuilder;
use super::kernels::{label, Grid, KernelSpec};
use super::loop_bound::LoopBound;
use super::matmul::epilogue_nodes;
use super::shaders::{self, fill};
use crate::compile::error::CompileError;
use crate::compile::fuse::FusionPlan;
use crate::compile::view::{view_or_buffer, StridedView};
use crate::graph::{Dim, Ir, NodeId};

/// Invocations per workgroup, one output column each.
const WG: u32 = 64;

/// The most rows one invocation computes (a prefill's rows share each
/// dequantized chunk of the weight).
pub const MAX_ROWS_PER_INVOCATION: u32 = 8;

/// Whether `mm`'s B operand reads a quantized weight.
pub fn reads_quantized(ir: &Ir, plan: &FusionPlan, mm: NodeId) -> bool {
    ir.operands(mm)
        .get(1)
        .is_some_and(|&b| quantized_weight(ir, view_or_buffer(ir, b, &plan.materialised).base).is_some())
}

/// B is all of the 2-D weight `[n, k]`, transposed in place: `[k, n]`
/// with strides `[1, k]`, any batch axes broadcast.
fn transposed_weight(ir: &Ir, bv: &StridedView) -> bool {
    let [n, k] = ir.node(bv.base).ty.shape.as_slice() else { return false };
    let r = bv.shape.len();
    r >= 2
        && bv.shape[..r - 2].iter().all(|d| *d == Dim::new(1))
        && bv.shape[r - 2..] == [k.clone(), n.clone()]
        && bv.strides[r - 2..] == [Dim::new(1), k.clone()]
}

/// The kernel of the matmul `mm` (epilogue ending at `root`) whose B is a
/// quantized weight read transposed, `tm` rows per invocation.
pub fn quant_matmul(ir: &Ir, plan: &FusionPlan, mm: NodeId, root: NodeId, tm: u32) -> Result<KernelSpec, CompileError> {
    let operands = ir.operands(mm);
    let a = view_or_buffer(ir, operands[0], &plan.materialised);
    let bv = view_or_buffer(ir, operands[1], &plan.materialised);
    let unsupported = |detail: String| CompileError::Unsupported { node: mm.index(), op: "matmul", detail };
    let Some((quant, _, k_len)) = quantized_weight(ir, bv.base) else {
        return Err(unsupported("its B operand is not a quantized weight (wgraph bug)".into()));
    };
    if !transposed_weight(ir, &bv) {
        return Err(unsupported(format!(
            "a {quant} weight is read only as `x @ Wᵀ` (a Linear), not through a view of shape {:?} (wgraph bug: \
             the weight should have stayed f32)",
            bv.shape
        )));
    }
    let out_shape = ir.node(mm).ty.shape.clone();
    let r = out_shape.len();
    let rows_shape = out_shape[..r - 1].to_vec();
    let n = out_shape[r - 1].clone();
    let mut b = ExprBuilder::new(ir, plan);
    let (m_expr, n_expr) = (b.dim(&Dim::product(&rows_shape)), b.dim(&n));
    let x = b.buffer(a.base);
    let w = b.buffer(bv.base);
    let sak = b.dim(&a.strides[a.shape.len() - 1]);

    // Where a row of x starts: the output row's coordinates, broadcast
    // into x's axes (aligned from the right, size-1 axes read 0).
    let coords = b.delinearize("rowf", &rows_shape);
    let pad = rows_shape.len() - (a.shape.len() - 1);
    let a_coords: Vec<String> = (0..a.shape.len() - 1)
        .map(|j| if a.shape[j] == Dim::new(1) { "0u".to_string() } else { coords[pad + j].clone() })
        .collect();
    let offset = b.linearize(&a_coords, &a.strides[..a.shape.len() - 1]);
    b.line(format!("return {offset};"));
    let x_row = std::mem::take(&mut b.code);

    // The epilogue: the root's value at the output's coordinates, the
    // product in a register.
    b.register = Some((mm, "acc".into()));
    let mut epi_coords = b.delinearize("rowf", &rows_shape);
    epi_coords.push("col".into());
    let result = if root == mm { "acc".to_string() } else { b.compute(root, &epi_coords) };
    let epi_body = std::mem::take(&mut b.code);

    let inputs = b.inputs.clone();
    let binds = bindings_typed(ir, root, &inputs, &[], &[])?;
    let chunks = k_len / 32;
    let wgsl = fill(
        shaders::MATMUL_QUANT,
        &[
            ("COMMON", shaders::COMMON.source),
            ("BINDINGS", &binds),
            ("EPI_BODY", &epi_body),
            ("EPI_RESULT", &result),
            ("X_ROW", &x_row),
            ("SAK", &sak),
            ("WG", &WG.to_string()),
            ("M", &m_expr),
            ("N", &n_expr),
            ("TM", &tm.to_string()),
            ("CHUNKS", &format!("{chunks}u")),
            ("W", &w),
            ("X", &x),
        ],
    )?;
    let fused = epilogue_nodes(ir, mm, root);
    Ok(KernelSpec {
        name: label(ir, root, &fused),
        root,
        wgsl,
        inputs,
        textures: Vec::new(),
        texture_copies: Vec::new(),
        params: b.params.dims,
        grid: Grid::Tiles { x: n, x_per: WG, y: Dim::product(&rows_shape), y_per: tm, z: Dim::new(1) },
        output_elements: Dim::product(&ir.node(root).ty.shape),
        co_outputs: Vec::new(),
        few_rows: None,
        variant: Some(format!("quant {quant} x{tm}")),
        // Per chunk: the dequantizing loop, and per row one pass over 8 vec4.
        loop_bound: Some(LoopBound { size: Dim::new(k_len), step: 32, per_step: 2 + 8 + tm * 9 }),
    })
}
