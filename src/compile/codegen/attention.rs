//! The fused attention kernel (shaders/attention.wgsl): q, k, v and the
//! mask read in place through strided views, the head dims unrolled here
//! (as vec4 steps when the layout allows), one invocation per query row.

use super::expr::{literal, ExprBuilder};
use super::kernels::{bindings_typed, finish, Grid, KernelSpec};
use super::shaders::{self, fill};
use crate::compile::error::CompileError;
use crate::compile::fuse::FusionPlan;
use crate::compile::view::{contiguous_strides, strided_view, StridedView};
use crate::graph::{DType, Dim, Ir, NodeId};

/// The attention node `node` (`scale` on the scores), `wg` query rows per
/// workgroup.
pub fn attention(
    ir: &Ir,
    plan: &FusionPlan,
    node: NodeId,
    scale: Option<f64>,
    wg: u32,
) -> Result<KernelSpec, CompileError> {
    let mut b = ExprBuilder::new(ir, plan);
    let operands = ir.operands(node);
    let views: Vec<StridedView> = operands
        .iter()
        .map(|&o| {
            strided_view(ir, o, &plan.materialised).unwrap_or_else(|| StridedView {
                base: o,
                shape: ir.node(o).ty.shape.clone(),
                strides: contiguous_strides(&ir.node(o).ty.shape),
            })
        })
        .collect();
    let (q, k, v) = (&views[0], &views[1], &views[2]);
    let r = q.shape.len();
    let batch_shape = q.shape[..r - 2].to_vec();
    let static_of = |d: &Dim, what: &'static str| {
        d.as_static().ok_or_else(|| CompileError::Unsupported {
            node: node.index(),
            op: "attention",
            detail: format!("the {what} must be static, got {d}"),
        })
    };
    let d = static_of(&q.shape[r - 1], "head dim of q and k")?;
    let dv = static_of(&v.shape[r - 1], "head dim of v")?;
    // vec4 along the head dim: contiguous there, every offset a multiple of 4.
    let vec = d % 4 == 0
        && dv % 4 == 0
        && [q, k, v].iter().all(|x| x.strides[r - 1] == Dim::new(1) && x.strides[..r - 1].iter().all(|s| s.divisible_by(4)));
    let (qb, kb, vb) = (b.buffer(q.base), b.buffer(k.base), b.buffer(v.base));

    // Base offsets of this row's batch in each operand (the mask broadcast).
    let bc = b.delinearize("batch", &batch_shape);
    let q_base = b.linearize(&bc, &q.strides[..r - 2]);
    let (k_base, v_base) = (b.linearize(&bc, &k.strides[..r - 2]), b.linearize(&bc, &v.strides[..r - 2]));
    let (q_row, q_col) = (b.dim(&q.strides[r - 2]), b.dim(&q.strides[r - 1]));
    let (k_row, k_col) = (b.dim(&k.strides[r - 2]), b.dim(&k.strides[r - 1]));
    let (v_row, v_col) = (b.dim(&v.strides[r - 2]), b.dim(&v.strides[r - 1]));
    b.line(format!("let q_at = ({q_base}) + i * {q_row};"));
    b.line(format!("let k_base = {k_base};"));
    b.line(format!("let v_base = {v_base};"));
    let mask = views.get(3).map(|m| {
        let strides = broadcast_strides(m, r);
        let base = b.linearize(&bc, &strides[..r - 2]);
        let (row, col) = (b.dim(&strides[r - 2]), b.dim(&strides[r - 1]));
        b.line(format!("let mask_at = ({base}) + i * {row};"));
        (b.buffer(m.base), col)
    });
    let bases = std::mem::take(&mut b.code);

    let (ty, steps, dv_steps) = if vec { ("vec4<f32>", d / 4, dv / 4) } else { ("f32", d, dv) };
    // Element `c` (vec4 step `c`) of a row starting at `at`.
    let at = |buf: &str, at: &str, col: &str, c: usize| {
        if vec {
            format!("{buf}[({at}) / 4u + {c}u]")
        } else if col == "1u" {
            format!("{buf}[{at} + {c}u]")
        } else {
            format!("{buf}[{at} + {c}u * {col}]")
        }
    };
    let mut load_q = String::new();
    let mut dot = String::new();
    for c in 0..steps {
        load_q.push_str(&format!("    let q{c} = {};\n", at(&qb, "q_at", &q_col, c)));
        let kc = at(&kb, "k_at", &k_col, c);
        dot.push_str(&if c == 0 { format!("        var d = q0 * {kc};\n") } else { format!("        d = fma(q{c}, {kc}, d);\n") });
    }
    let sum = if vec { "d.x + d.y + d.z + d.w" } else { "d" };
    let scaled = match scale {
        Some(s) => format!("({sum}) * {}", literal(s, DType::F32)),
        None => sum.to_string(),
    };
    let mut score = format!("        let k_at = k_base + j * {k_row};\n{dot}        var s = {scaled};\n");
    if let Some((buf, col)) = &mask {
        score.push_str(&format!("        s = select(LOWEST, s, {buf}[mask_at + j * {col}] != 0u);\n"));
    }
    let (mut acc_decl, mut rescale, mut accumulate, mut store) = (String::new(), String::new(), String::new(), String::new());
    accumulate.push_str(&format!("        let v_at = v_base + j * {v_row};\n"));
    for c in 0..dv_steps {
        acc_decl.push_str(&format!("    var a{c} = {ty}(0.0);\n"));
        rescale.push_str(&format!("            a{c} = a{c} * c;\n"));
        accumulate.push_str(&format!("        a{c} = fma({ty}(p), {}, a{c});\n", at(&vb, "v_at", &v_col, c)));
        if vec {
            for (lane, x) in ["x", "y", "z", "w"].iter().enumerate() {
                store.push_str(&format!("    out[o + {}u] = a{c}.{x} * inv;\n", 4 * c + lane));
            }
        } else {
            store.push_str(&format!("    out[o + {c}u] = a{c} * inv;\n"));
        }
    }
    let out_shape = ir.node(node).ty.shape.clone();
    let rows = Dim::product(&out_shape[..r - 1]);
    let vec4_buffers: Vec<NodeId> = if vec { vec![q.base, k.base, v.base] } else { Vec::new() };
    let values = [
        ("COMMON", shaders::COMMON.source.to_string()),
        ("BINDINGS", bindings_typed(ir, node, &b.inputs, &vec4_buffers, &[])),
        ("WG", wg.to_string()),
        ("ROWS", b.dim(&rows)),
        ("M", b.dim(&q.shape[r - 2])),
        ("N", b.dim(&k.shape[r - 2])),
        ("DV", dv.to_string() + "u"),
        ("BASES", bases),
        ("LOAD_Q", load_q),
        ("ACC_DECL", acc_decl),
        ("SCORE", score),
        ("RESCALE", rescale),
        ("ACCUMULATE", accumulate),
        ("STORE", store),
    ];
    let refs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wgsl = fill(shaders::ATTENTION, &refs)?;
    let name = format!("%{}:attention", node.index());
    Ok(finish(b, node, name, wgsl, Grid::Linear { items: rows, per_group: wg }))
}

/// The mask view's strides for a rank-`r` read: missing leading axes and
/// size-1 axes broadcast (stride 0).
fn broadcast_strides(m: &StridedView, r: usize) -> Vec<Dim> {
    let pad = r - m.shape.len();
    (0..r)
        .map(|a| if a < pad || m.shape[a - pad] == Dim::new(1) { Dim::new(0) } else { m.strides[a - pad].clone() })
        .collect()
}
