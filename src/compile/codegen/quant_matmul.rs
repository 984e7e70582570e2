//! Products with a weight kept in ggml's quantized blocks: `x @ Wᵀ` (every
//! Linear, a tied LM head) where W dequantizes inside the kernel,
//! 32 values at a time, never as an f32 copy (shaders/matmul_quant.wgsl).

use super::bindings::{bindings_typed, quantized_weight, word_texture_width};
use super::expr::ExprBuilder;
use super::kernels::{label, Grid, KernelSpec, TextureCopy};
use super::loop_bound::LoopBound;
use super::matmul::epilogue_nodes;
use super::quant;
use super::shaders::{self, fill};
use crate::compile::error::CompileError;
use crate::compile::fuse::FusionPlan;
use crate::compile::view::{view_or_buffer, StridedView};
use crate::graph::{DType, Dim, Ir, NodeId};

/// Invocations per workgroup, one output column each.
const WG: u32 = 64;

/// Invocations per workgroup of the four-column kernel: small enough that
/// a decode step's narrowest projections (192 columns: 48 invocations)
/// still make a workgroup for each of two CPU threads.
const QUAD_WG: u32 = 32;

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
///
/// `texture_side` (0: never) lets x be copied into a texture before the
/// dispatch: CPU drivers fetch texels as vectors, where every lane's
/// buffer load of x (the same address for all of them) goes one by one.
pub fn quant_matmul(
    ir: &Ir,
    plan: &FusionPlan,
    mm: NodeId,
    root: NodeId,
    tm: u32,
    texture_side: u32,
) -> Result<KernelSpec, CompileError> {
    let operands = ir.operands(mm);
    let a = view_or_buffer(ir, operands[0], &plan.materialised);
    let bv = view_or_buffer(ir, operands[1], &plan.materialised);
    let unsupported = |detail: String| CompileError::Unsupported { node: mm.index(), op: "matmul", detail };
    if !(a.at_origin() && bv.at_origin()) {
        return Err(unsupported("an operand is a view from an offset (wgraph bug: fusion materialises those)".into()));
    }
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
    let chunks = k_len / 32;
    let x_copy = x_texture_copy(ir, plan, &a, &rows_shape, k_len, texture_side);
    let x_read = match &x_copy {
        Some(copy) => XRead::Texture { fold: copy.fold, texels: k_len / 4 },
        None => XRead::Buffer,
    };
    let textures: Vec<NodeId> = x_copy.iter().map(|c| c.node).collect();
    let binds = bindings_typed(ir, plan, root, &inputs, &[], &textures)?;
    let fused = epilogue_nodes(ir, mm, root);
    // One row of x (a decode step) over a weight held as a texture with a
    // multiple of four rows: four columns per invocation share W's texels.
    let quads = match (tm, n.as_static(), word_texture_width(ir, plan, bv.base)) {
        (1, Some(cols), Some(width)) if cols % 4 == 0 => Some((cols, width)),
        _ => None,
    };
    let helpers = fill(
        shaders::MATMUL_QUANT_HELPERS,
        &[
            ("COMMON", shaders::COMMON.source),
            ("BINDINGS", &binds),
            ("EPI_BODY", &epi_body),
            ("EPI_RESULT", &result),
            ("X_ROW", &x_row),
            ("SAK", &sak),
        ],
    )?;
    // The kernel's source, tiles (columns, rows per invocation), variant
    // and loop work per chunk.
    let (wgsl, x_per, y_per, variant, per_step) = match quads {
        Some((cols, width)) => {
            let lanes =
                (0..4).map(|l| quant::lane_reader_wgsl(quant, &w, cols, width, l)).collect::<Result<Vec<_>, _>>()?;
            let (x_base, x_loads) = quad_x_reads(&x, &sak, x_read);
            let sum = |j: usize| (0..8).map(|t| format!("dot(x{t}, w{j}[{t}])")).collect::<Vec<_>>().join(" + ");
            let wgsl = fill(
                shaders::MATMUL_QUANT_QUADS,
                &[
                    ("HELPERS", &helpers),
                    ("LANE_READERS", &lanes.concat()),
                    ("WG", &QUAD_WG.to_string()),
                    ("M", &m_expr),
                    ("N", &n_expr),
                    ("X_BASE", &x_base),
                    ("X_LOADS", &x_loads),
                    ("SUM_0", &sum(0)),
                    ("SUM_1", &sum(1)),
                    ("SUM_2", &sum(2)),
                    ("SUM_3", &sum(3)),
                    ("CHUNKS", &format!("{chunks}u")),
                    ("W", &w),
                ],
            )?;
            // Per chunk: the outer loop and four dequantizing loops.
            (wgsl, QUAD_WG * 4, 1, format!("quant {quant} x1 4 columns"), 1 + 4 * 9)
        }
        None => {
            let (row_bases, row_sums, stores) = unrolled_rows(tm, &x, &sak, x_read);

            let wgsl = fill(
                shaders::MATMUL_QUANT,
                &[
                    ("HELPERS", &helpers),
                    ("WG", &WG.to_string()),
                    ("M", &m_expr),
                    ("N", &n_expr),
                    ("SAK", &sak),
                    ("TM", &tm.to_string()),
                    ("ROW_BASES", &row_bases),
                    ("ROW_SUMS", &row_sums),
                    ("STORES", &stores),
                    ("CHUNKS", &format!("{chunks}u")),
                    ("W", &w),
                ],
            )?;
            // Per chunk: the dequantizing loop, and per row one pass over 8 vec4.
            (wgsl, WG, tm, format!("quant {quant} x{tm}"), 2 + 8 + tm * 9)
        }
    };
    Ok(KernelSpec {
        name: label(ir, root, &fused),
        root,
        wgsl,
        inputs,
        textures,
        texture_copies: x_copy.into_iter().collect(),
        word_textures: Vec::new(),
        params: b.params.dims,
        grid: Grid::Tiles { x: n, x_per, y: Dim::product(&rows_shape), y_per, z: Dim::new(1) },
        output_elements: Dim::product(&ir.node(root).ty.shape),
        co_outputs: Vec::new(),
        few_rows: None,
        variant: Some(variant),
        loop_bound: Some(LoopBound { size: Dim::new(k_len), step: 32, per_step }),
    })
}

/// Where the one row of x starts, and its chunk's 8 vec4 `x0..x7` (read
/// with addresses uniform across the workgroup).
fn quad_x_reads(x: &str, sak: &str, read: XRead) -> (String, String) {
    match read {
        XRead::Buffer => {
            let loads = (0..8)
                .map(|t| {
                    let k = format!("base + s * 32u * {sak} + {}u * {sak}", 4 * t);
                    format!(
                        "        let x{t} = vec4<f32>({x}[{k}], {x}[{k} + {sak}], {x}[{k} + 2u * {sak}], {x}[{k} + 3u * {sak}]);\n"
                    )
                })
                .collect();
            ("    let base = x_row(min(row, M - 1u));".to_string(), loads)
        }
        XRead::Texture { fold, texels } => {
            let base = format!(
                "    let r = min(row, M - 1u);\n    let tx = (r % {fold}u) * {texels}u;\n    let ty = r / {fold}u;"
            );
            let loads = (0..8)
                .map(|t| format!("        let x{t} = textureLoad({x}, vec2<u32>(tx + s * 8u + {t}u, ty));\n"))
                .collect();
            (base, loads)
        }
    }
}

/// The per-row code of the kernel, unrolled: each row's start in x and
/// accumulator, its sum over a dequantized chunk (8 vec4 of x, read with
/// uniform addresses), and its store.
fn unrolled_rows(tm: u32, x: &str, sak: &str, read: XRead) -> (String, String, String) {
    let (mut bases, mut sums, mut stores) = (String::new(), String::new(), String::new());
    for i in 0..tm {
        bases.push_str(&match read {
            XRead::Buffer => format!("    let base{i} = x_row(min(row0 + {i}u, M - 1u));\n"),
            XRead::Texture { fold, texels } => format!(
                "    let r{i} = min(row0 + {i}u, M - 1u);\n    let tx{i} = (r{i} % {fold}u) * {texels}u;\n    \
                 let ty{i} = r{i} / {fold}u;\n"
            ),
        });
        bases.push_str(&format!("    var acc{i} = 0.0;\n"));
        let terms: Vec<String> = (0..8)
            .map(|t| match read {
                XRead::Buffer => {
                    let k = format!("base{i} + o + {}u * {sak}", 4 * t);
                    format!(
                        "dot(vec4<f32>({x}[{k}], {x}[{k} + {sak}], {x}[{k} + 2u * {sak}], {x}[{k} + 3u * {sak}]), w[{t}])"
                    )
                }
                XRead::Texture { .. } => {
                    format!("dot(textureLoad({x}, vec2<u32>(tx{i} + s * 8u + {t}u, ty{i})), w[{t}])")
                }
            })
            .collect();
        sums.push_str(&format!("        acc{i} += {};\n", terms.join("\n            + ")));
        stores.push_str(&format!(
            "        if (row0 + {i}u < M) {{\n            out[(row0 + {i}u) * N + col] = epilogue(acc{i}, row0 + {i}u, col);\n        }}\n"
        ));
    }
    (bases, sums, stores)
}

/// How the kernel reads x.
#[derive(Debug, Clone, Copy)]
enum XRead {
    /// Scalar loads through its strided view.
    Buffer,
    /// Texels of a copy: `fold` rows of `texels` texels to a texture row.
    Texture { fold: u32, texels: usize },
}

/// The texture copy x can be read through: an f32 activation whose
/// buffer holds exactly the product's rows, row-major, none broadcast.
fn x_texture_copy(
    ir: &Ir,
    plan: &FusionPlan,
    a: &StridedView,
    rows_shape: &[Dim],
    k: usize,
    max_side: u32,
) -> Option<TextureCopy> {
    let node = ir.node(a.base);
    let dense = a.is_contiguous()
        && Dim::product(&a.shape) == Dim::product(&node.ty.shape)
        && a.shape[..a.shape.len() - 1] == *rows_shape;
    let usable = max_side > 0 && dense && !plan.is_fixed(ir, a.base) && node.ty.dtype == DType::F32;
    usable.then(|| TextureCopy::new(a.base, Dim::product(rows_shape), k, max_side)).flatten()
}
