//! LayerNorm and RMSNorm with one row per invocation and every operand
//! read from a texture (shaders/norm_texture.wgsl), for CPU drivers: the
//! row is an activation copied into a texture before the dispatch, gamma
//! and beta are weights uploaded as one-row textures (trained ones copied
//! like the row). Norms whose
//! operands do not fit that (a computed gamma, a row not of whole texels)
//! keep the workgroup-per-row kernel.

use super::expr::{literal, ExprBuilder};
use super::kernels::{bindings_typed, finish, label, Grid, KernelSpec, TextureCopy};
use super::shaders::{self, fill};
use crate::compile::error::CompileError;
use crate::compile::fuse::FusionPlan;
use crate::graph::{DType, Dim, Ir, NodeId, RowOp};

/// The norm `node` as a texture-reading kernel of `wg` rows per workgroup,
/// if its operands allow one on a device whose textures are at most
/// `max_side` texels a side (0: no textures).
pub fn norm_texture(
    ir: &Ir,
    plan: &FusionPlan,
    node: NodeId,
    row_op: RowOp,
    max_side: u32,
    wg: u32,
) -> Option<Result<KernelSpec, CompileError>> {
    let (RowOp::LayerNorm { eps } | RowOp::RmsNorm { eps }) = row_op else { return None };
    let operands = ir.operands(node);
    let x = *operands.first()?;
    let shape = &ir.node(x).ty.shape;
    let n = shape.last()?.as_static()?;
    let x_node = ir.node(x);
    let activation = !plan.is_fixed(ir, x);
    let distinct = operands.iter().enumerate().all(|(i, o)| !operands[..i].contains(o));
    // Gamma and beta: fixed weights uploaded as textures, or values with
    // a buffer (trained weights) copied into one.
    let affine_ok =
        operands[1..].iter().all(|&o| (plan.is_fixed(ir, o) || plan.is_materialised(o)) && one_row(ir, o, n));
    if max_side == 0
        || x_node.ty.dtype != DType::F32
        || !activation
        || !plan.is_materialised(x)
        || row_op.axis(shape.len()) != shape.len() - 1
        || !distinct
        || !affine_ok
        || !(1..=3).contains(&operands.len())
        || operands.len() < 2
    {
        return None;
    }
    let rows = Dim::product(&shape[..shape.len() - 1]);
    let mut copies = vec![TextureCopy::new(x, rows.clone(), n, max_side)?];
    for &o in operands[1..].iter().filter(|&&o| !plan.is_fixed(ir, o)) {
        copies.push(TextureCopy::new(o, Dim::new(1), n, max_side)?);
    }
    Some(generate(ir, plan, node, &operands, row_op, eps, copies, wg))
}

/// Whether `node` holds `n` f32 values (gamma, beta).
fn one_row(ir: &Ir, node: NodeId, n: usize) -> bool {
    let nd = ir.node(node);
    nd.ty.dtype == DType::F32 && nd.ty.shape.iter().map(|d| d.as_static()).collect::<Option<Vec<_>>>() == Some(vec![n])
}

#[allow(clippy::too_many_arguments)]
fn generate(
    ir: &Ir,
    plan: &FusionPlan,
    node: NodeId,
    operands: &[NodeId],
    row_op: RowOp,
    eps: f64,
    copies: Vec<TextureCopy>,
    wg: u32,
) -> Result<KernelSpec, CompileError> {
    let copy = &copies[0];
    let mut b = ExprBuilder::new(ir, plan);
    operands.iter().for_each(|&o| {
        b.buffer(o);
    });
    let rows_expr = b.dim(&copy.rows);
    let binds = bindings_typed(ir, plan, node, &b.inputs, &[], operands)?;
    let beta = if operands.len() == 3 { "textureLoad(in2, vec2<u32>(j, 0u))" } else { "vec4<f32>(0.0)" };
    let values = [
        ("COMMON", shaders::COMMON.source.to_string()),
        ("BINDINGS", binds),
        ("RMS", matches!(row_op, RowOp::RmsNorm { .. }).to_string()),
        ("N4", (copy.cols / 4).to_string()),
        ("FOLD", copy.fold.to_string()),
        ("WG", wg.to_string()),
        ("ROWS", rows_expr),
        ("EPS", literal(eps, DType::F32)),
        ("BETA", beta.to_string()),
    ];
    let refs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wgsl = fill(shaders::NORM_TEXTURE, &refs)?;
    let name = label(ir, node, &[]);
    let rows = copy.rows.clone();
    let mut spec = finish(b, node, name, wgsl, Grid::Linear { items: rows, per_group: wg });
    spec.textures = operands.to_vec();
    spec.texture_copies = copies;
    spec.variant = Some("rows from textures".to_string());
    Ok(spec)
}
