//! Kernel bindings: the output, the inputs (scalars, vec4, textures, or the
//! words of a quantized weight with the functions that read them) and the
//! params buffer, in binding order.

use super::wgsl::{Binding, Scalar};
use crate::compile::error::CompileError;
use crate::compile::fuse::FusionPlan;
use crate::graph::{Ir, NodeId, Op, Quant};

/// The declarations of the output, the inputs and the params buffer.
pub(super) fn bindings(ir: &Ir, plan: &FusionPlan, root: NodeId, inputs: &[NodeId]) -> Result<String, CompileError> {
    bindings_typed(ir, plan, root, inputs, &[], &[])
}

/// The declarations of the output, the inputs (vec4 or texture where
/// listed, `array<u32>` words for a quantized weight, with the functions
/// that dequantize them) and the params buffer.
pub(super) fn bindings_typed(
    ir: &Ir,
    plan: &FusionPlan,
    root: NodeId,
    inputs: &[NodeId],
    vec4: &[NodeId],
    textures: &[NodeId],
) -> Result<String, CompileError> {
    let mut s = Binding::Array(Scalar::of(ir.node(root).ty.dtype)).declare(0, "out", true);
    let mut readers = String::new();
    for (i, &n) in inputs.iter().enumerate() {
        let name = format!("in{i}");
        let binding = if let Some((q, rows, cols)) = quantized_weight(ir, n) {
            let width = word_texture_width(ir, plan, n);
            readers.push_str(&super::quant::reader_wgsl(q, &name, rows, cols, width)?);
            if width.is_some() {
                Binding::TextureU32
            } else {
                Binding::Array(Scalar::U32)
            }
        } else if textures.contains(&n) {
            Binding::Texture
        } else if vec4.contains(&n) {
            Binding::ArrayVec4
        } else {
            Binding::Array(Scalar::of(ir.node(n).ty.dtype))
        };
        s.push_str(&binding.declare(i + 1, &name, false));
    }
    s.push_str(&Binding::Array(Scalar::U32).declare(inputs.len() + 1, "P", false));
    if !readers.is_empty() {
        s.push_str(super::quant::common_wgsl());
        s.push_str(&readers);
    }
    Ok(s)
}

/// A weight kept in quantized blocks: its format, rows and columns.
pub fn quantized_weight(ir: &Ir, node: NodeId) -> Option<(Quant, usize, usize)> {
    let n = ir.node(node);
    let Op::Weight { quant: Some(q), .. } = &n.op else { return None };
    let [rows, cols] = n.ty.shape.as_slice() else { return None };
    Some((*q, rows.as_static()?, cols.as_static()?))
}

/// The texels per row of the texture the quantized weight `node` is
/// uploaded as (`FusionPlan::quant_texture_side`), or `None` for a buffer
/// (or a node that is no quantized weight). Bindings, lowering and upload
/// all ask this, so they agree on the layout.
pub fn word_texture_width(ir: &Ir, plan: &FusionPlan, node: NodeId) -> Option<u32> {
    let (q, rows, cols) = quantized_weight(ir, node)?;
    let side = plan.quant_texture_side as usize;
    let texels = super::quant::device_words(q, rows, cols).div_ceil(4);
    if side == 0 || texels == 0 || texels.div_ceil(side) > side {
        return None;
    }
    Some(texels.min(side) as u32)
}
