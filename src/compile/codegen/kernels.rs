//! Lowering kernel roots to WGSL: one generator per family, each filling its
//! template from shaders/ with index math computed here.

pub(super) use super::bindings::{bindings, bindings_typed};
use super::expr::{literal, ExprBuilder};
use super::loop_bound::LoopBound;
use super::shaders::{self, fill, Template};
pub use super::texture::{weight_fold, TextureCopy};
use super::wgsl::{Binding, Scalar};
use crate::compile::error::CompileError;
use crate::compile::fuse::FusionPlan;
use crate::graph::{DType, Dim, Ir, NodeId, ReduceOp, RowOp};

/// How many workgroups a kernel needs, as a function of the bindings.
#[derive(Debug, Clone, PartialEq)]
pub enum Grid {
    /// `ceil(items / per_group)` workgroups along x, folded into a 2-D grid
    /// past the 65,535 limit (kernels linearise `x + y * num_x`).
    Linear {
        /// Work items (output elements, or rows for row kernels).
        items: Dim,
        /// Items one workgroup covers.
        per_group: u32,
    },
    /// `times * ceil(items / per_group)` workgroups (blocks of items, for
    /// each of `times` batch entries), folded like `Linear`. No more than
    /// that: on lavapipe, trailing workgroups that return at once cost far
    /// more than their nothing (the fused attention with half its
    /// workgroups empty runs markedly slower, as if one core sat idle;
    /// BENCHMARKS.md, "Fused attention").
    Blocks {
        /// Work items per batch entry.
        items: Dim,
        /// Items one workgroup covers.
        per_group: u32,
        /// Batch entries.
        times: Dim,
    },
    /// A 3-D grid: `ceil(x / x_per)` by `ceil(y / y_per)` by `z`.
    Tiles {
        /// Extent along x (a matmul's columns).
        x: Dim,
        /// Extent one workgroup covers along x.
        x_per: u32,
        /// Extent along y (a matmul's rows).
        y: Dim,
        /// Extent one workgroup covers along y.
        y_per: u32,
        /// Workgroups along z (a matmul's batch).
        z: Dim,
    },
}

/// One compute kernel ready for the runtime.
#[derive(Debug, Clone)]
pub struct KernelSpec {
    /// `%12:matmul+add+gelu` style label (node and ops it covers).
    pub name: String,
    /// The node whose value the kernel writes (binding 0).
    pub root: NodeId,
    /// The kernel's source, already validated by naga.
    pub wgsl: String,
    /// Values read, bindings 1..=n: storage buffers, except those in
    /// `textures`.
    pub inputs: Vec<NodeId>,
    /// Inputs bound as read-only storage textures of rgba32float texels
    /// instead, each texel four consecutive values of a row (a matmul's
    /// operands on CPU drivers, where texel reads are vectorised and
    /// storage-buffer loads are per lane): 2-D weights uploaded once, and
    /// the activations in `texture_copies`.
    pub textures: Vec<NodeId>,
    /// Activations among `textures`, copied from their buffers into their
    /// textures before each dispatch.
    pub texture_copies: Vec<TextureCopy>,
    /// Inputs bound as rgba32uint textures: quantized weights' words
    /// (`FusionPlan::quant_texture_side`), set by the lowering.
    pub word_textures: Vec<NodeId>,
    /// Sizes written to the params buffer (binding n+1) per run.
    pub params: Vec<Dim>,
    /// The dispatch size, evaluated per run.
    pub grid: Grid,
    /// Elements written; a kernel with zero is skipped.
    pub output_elements: Dim,
    /// Further values this kernel writes at the same index as `root`
    /// (bindings after the params, in this order): graph outputs that only
    /// feed the root, such as an optimizer's new moments next to the new
    /// parameter (see `FusionPlan::co_outputs`).
    pub co_outputs: Vec<NodeId>,
    /// A second kernel for the same work, with the same bindings, used for
    /// the runs where `rows` is at most `max_rows` (a matmul whose row
    /// count is symbolic: a short prompt gets the matrix-vector kernel, a
    /// long one the tiled block).
    pub few_rows: Option<FewRows>,
    /// The kernel variant, for profiles (a matmul's block, as
    /// `register 16x8 8x4 sub`); `None` for kernels with one form.
    pub variant: Option<String>,
    /// The loops whose iterations per invocation grow with a size (a
    /// matmul's k loop), for drivers that stop long loops (see
    /// [`LoopBound`]).
    pub loop_bound: Option<LoopBound>,
}

impl KernelSpec {
    /// The few-rows variant as a kernel of its own (same bindings, its
    /// source), for validation and pipeline creation.
    pub fn few_rows_kernel(&self) -> Option<KernelSpec> {
        let v = self.few_rows.as_ref()?;
        Some(KernelSpec { wgsl: v.wgsl.clone(), grid: v.grid.clone(), few_rows: None, ..self.clone() })
    }
}

/// The few-rows variant of a kernel (see [`KernelSpec::few_rows`]).
#[derive(Debug, Clone)]
pub struct FewRows {
    /// The row count it depends on, evaluated per run.
    pub rows: Dim,
    /// The most rows it is chosen for.
    pub max_rows: usize,
    /// Its source, validated by naga like the main one.
    pub wgsl: String,
    /// Its dispatch size.
    pub grid: Grid,
}

const WG: u32 = 256;

/// A 1-D convolution's hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Step between window starts.
    pub stride: usize,
    /// Zeros at both ends of the length.
    pub padding: usize,
    /// Spacing between kernel taps.
    pub dilation: usize,
    /// Channel groups convolved independently.
    pub groups: usize,
}

/// `%12:layer_norm` or `%12:matmul+add+gelu`.
pub(super) fn label(ir: &Ir, root: NodeId, fused: &[NodeId]) -> String {
    let mut ops: Vec<&str> = fused.iter().map(|&n| ir.node(n).op.name()).collect();
    ops.push(ir.node(root).op.name());
    ops.dedup();
    format!("%{}:{}", root.index(), ops.join("+"))
}

pub(super) fn finish(b: ExprBuilder<'_>, root: NodeId, name: String, wgsl: String, grid: Grid) -> KernelSpec {
    let output_elements = Dim::product(&b.ir.node(root).ty.shape);
    KernelSpec {
        name,
        root,
        wgsl,
        inputs: b.inputs,
        textures: Vec::new(),
        texture_copies: Vec::new(),
        word_textures: Vec::new(),
        params: b.params.dims,
        grid,
        output_elements,
        co_outputs: b.co_stores.into_iter().map(|(n, _)| n).collect(),
        few_rows: None,
        variant: None,
        loop_bound: None,
    }
}

/// A fused elementwise kernel rooted at `root`.
/// `texture_side`: read f32 operands through textures where they fit
/// (CPU drivers; 0: buffers, see `ExprBuilder::texture_side`).
pub fn elementwise(ir: &Ir, plan: &FusionPlan, root: NodeId, texture_side: u32) -> Result<KernelSpec, CompileError> {
    let mut b = ExprBuilder::new(ir, plan);
    b.kernel_root = Some(root);
    b.texture_side = texture_side;
    let shape = ir.node(root).ty.shape.clone();
    let items = Dim::product(&shape);
    let count = b.dim(&items);
    let coords = b.delinearize("i", &shape);
    let result = b.compute(root, &coords);
    // Co-outputs off the root's expression (sibling kernels merged into
    // this one) are computed after it.
    for sibling in crate::compile::fuse::own_co_outputs(root, plan) {
        b.value(sibling, &coords);
    }
    // Co-outputs share the root's shape: each is stored at index `i` too.
    let textures: Vec<NodeId> = b.texture_reads.iter().map(|t| t.0).collect();
    let copies: Vec<TextureCopy> = b.texture_reads.iter().filter_map(|t| t.3.clone()).collect();
    let mut binds = bindings_typed(ir, plan, root, &b.inputs, &[], &textures)?;
    for (k, (node, value)) in b.co_stores.clone().iter().enumerate() {
        let out = format!("out{}", k + 1);
        let binding = b.inputs.len() + 2 + k;
        binds.push_str(&Binding::Array(Scalar::of(ir.node(*node).ty.dtype)).declare(binding, &out, true));
        b.line(format!("{out}[i] = {value};"));
    }
    let body = std::mem::take(&mut b.code);
    let wgsl = fill(
        shaders::ELEMENTWISE,
        &[
            ("COMMON", shaders::COMMON.source),
            ("BINDINGS", &binds),
            ("WG", &WG.to_string()),
            ("COUNT", &count),
            ("BODY", &body),
            ("RESULT", &result),
        ],
    )?;
    let name = if b.co_stores.is_empty() {
        format!("%{}:{}", root.index(), ir.node(root).op.name())
    } else {
        // The count, not the nodes: kernels of one kind group in profiles.
        format!("%{}:{} (+{} outputs)", root.index(), ir.node(root).op.name(), b.co_stores.len())
    };
    let mut spec = finish(b, root, name, wgsl, Grid::Linear { items, per_group: WG });
    spec.textures = textures;
    spec.texture_copies = copies;
    Ok(spec)
}

/// `(rows, n, inner)` of a reduction over `axis` of `shape`.
fn around(shape: &[Dim], axis: usize) -> (Dim, Dim, Dim) {
    (
        Dim::product(&shape[..axis]) * Dim::product(&shape[axis + 1..]),
        shape[axis].clone(),
        Dim::product(&shape[axis + 1..]),
    )
}

/// The longest row a reduction or softmax takes one invocation per row
/// for, on CPU drivers (see `row`).
pub const SHORT_ROW: usize = 1024;

/// The longest row the norm gradients take one invocation per row for on
/// CPU drivers: the row and its gradient live in the invocation's private
/// arrays.
const NORM_GRAD_CACHED_ROW: usize = 256;

/// Invocations per workgroup of the row-per-invocation kernels.
const LANES_WG: u32 = 64;

/// Softmax, norms, reductions and argmax: one workgroup per row. With
/// `short_rows` (CPU drivers), softmax and reductions over a last axis of
/// at most [`SHORT_ROW`] take one row per invocation instead: a
/// workgroup's barriers cost more there than a lane's loop over a row.
pub fn row(
    ir: &Ir,
    plan: &FusionPlan,
    node: NodeId,
    row_op: RowOp,
    row_wg: u32,
    short_rows: bool,
) -> Result<KernelSpec, CompileError> {
    let mut b = ExprBuilder::new(ir, plan);
    let operands = ir.operands(node);
    for &o in &operands {
        if plan.is_materialised(o) {
            b.buffer(o);
        }
    }
    let in_shape = ir.node(operands[0]).ty.shape.clone();
    let scalar = Scalar::of(ir.node(operands[0]).ty.dtype);
    let axis = row_op.axis(in_shape.len());
    let (rows, len, inner) = around(&in_shape, axis);
    let (rows_expr, len_expr, inner_expr) = (b.dim(&rows), b.dim(&len), b.dim(&inner));
    let columns = column_workgroup(row_op, &inner, row_wg);
    let lanes = short_rows
        && columns.is_none()
        && len.as_static().is_some_and(|n| n <= SHORT_ROW)
        && match row_op {
            RowOp::Reduce { .. } => true,
            RowOp::Softmax { .. } => plan.is_materialised(operands[0]),
            // Its rows are cached in private arrays of a static length.
            RowOp::LayerNormGrad { .. } | RowOp::RmsNormGrad { .. } => {
                len.as_static().is_some_and(|n| n <= NORM_GRAD_CACHED_ROW)
            }
            _ => false,
        };
    // Element `j` of the row: read from the operand's buffer, or computed
    // in place when the operand is the reduction's fused prologue.
    let load = if plan.is_materialised(operands[0]) {
        "let x = in0[base + j * inner];".to_string()
    } else {
        b.line("let flat = base + j * inner;");
        let coords = b.delinearize("flat", &in_shape);
        let value = b.compute(operands[0], &coords);
        format!("{}    let x = {value};", std::mem::take(&mut b.code))
    };
    let wg = row_wg.to_string();
    let row_common = fill(shaders::ROW_COMMON, &[("WG", &wg), ("T", scalar.name())])?;
    let binds = bindings(ir, plan, node, &b.inputs)?;
    // Placeholders every row kernel has; each kind adds its own.
    let mut values: Vec<(&str, String)> = vec![
        ("COMMON", shaders::COMMON.source.to_string()),
        ("BINDINGS", binds),
        // A column reduction's workgroup is WX x WY, not one row's.
        (
            "WG",
            if lanes {
                LANES_WG.to_string()
            } else {
                columns.map_or_else(|| wg.clone(), |(wx, wy)| (wx * wy).to_string())
            },
        ),
        ("ROWS", rows_expr),
        ("N", len_expr),
    ];
    let template: Template = match row_op {
        RowOp::LayerNormGrad { eps } | RowOp::RmsNormGrad { eps } => {
            // Every operand is a buffer (fuse.rs); a repeated one binds once.
            let [x, dy, gamma] = [0, 1, 2].map(|i| b.buffer(operands[i]));
            values.extend([
                ("RMS", matches!(row_op, RowOp::RmsNormGrad { .. }).to_string()),
                ("EPS", literal(eps, DType::F32)),
                ("X", x),
                ("DY", dy),
                ("GAMMA", gamma),
            ]);
            if lanes {
                shaders::NORM_GRAD_LANES
            } else {
                values.push(("ROW_COMMON", row_common));
                shaders::NORM_GRAD
            }
        }
        RowOp::Softmax { .. } if lanes => {
            values.push(("INNER", inner_expr));
            shaders::SOFTMAX_LANES
        }
        RowOp::Softmax { .. } => {
            values.extend([("ROW_COMMON", row_common), ("INNER", inner_expr)]);
            shaders::SOFTMAX
        }
        RowOp::LayerNorm { eps } | RowOp::RmsNorm { eps } => {
            let rms = matches!(row_op, RowOp::RmsNorm { .. });
            let beta = if operands.len() == 3 { "in2[j]" } else { "0.0" };
            values.extend([
                ("ROW_COMMON", row_common),
                ("RMS", rms.to_string()),
                ("EPS", literal(eps, DType::F32)),
                ("BETA", beta.to_string()),
            ]);
            shaders::NORM
        }
        RowOp::Reduce { op, .. } => {
            let zero = format!("{scalar}(0)");
            let (init, combine, reduce, finish) = match op {
                ReduceOp::Sum => (zero, "acc + x", "reduce_sum", "total"),
                ReduceOp::Mean => (zero, "acc + x", "reduce_sum", "total / f32(n)"),
                ReduceOp::Max => (scalar.lowest().to_string(), "select(acc, x, x > acc)", "reduce_max", "total"),
                ReduceOp::Min => (scalar.highest().to_string(), "select(acc, x, x < acc)", "reduce_min", "total"),
            };
            values.extend([
                ("INNER", inner_expr),
                ("T", scalar.name().to_string()),
                ("INIT", init),
                ("COMBINE", combine.to_string()),
                ("FINISH", finish.to_string()),
                ("LOAD", load.clone()),
            ]);
            if let Some((wx, wy)) = columns {
                values.extend([("WX", wx.to_string()), ("WY", wy.to_string())]);
                shaders::REDUCE_COLUMNS
            } else if lanes {
                shaders::REDUCE_LANES
            } else {
                values.extend([("ROW_COMMON", row_common), ("REDUCE", reduce.to_string())]);
                shaders::REDUCE
            }
        }
        RowOp::Cumsum { .. } => {
            values.extend([("INNER", inner_expr), ("T", scalar.name().to_string())]);
            shaders::SCAN
        }
        RowOp::ArgMax { .. } => {
            values.extend([
                ("INNER", inner_expr),
                ("T", scalar.name().to_string()),
                ("LOWEST", scalar.lowest().to_string()),
            ]);
            shaders::ARGMAX
        }
    };
    let refs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wgsl = fill(template, &refs)?;
    let prologue: Vec<NodeId> = crate::compile::fuse::members(ir, node, plan)
        .into_iter()
        .filter(|&n| n != node && !ir.node(n).op.is_index_only())
        .collect();
    let name = label(ir, node, &prologue);
    let per_group = if lanes { LANES_WG } else { columns.map_or(1, |(wx, _)| wx) };
    let mut spec = finish(b, node, name, wgsl, Grid::Linear { items: rows, per_group });
    if lanes {
        spec.variant = Some("a row per invocation".to_string());
    }
    Ok(spec)
}

/// The `(WX, WY)` workgroup of a reduction over an axis that is not the
/// last: `WX` neighbouring outputs (the driver's SIMD width on CPUs, so one
/// vector load serves a row of invocations) by `WY` invocations splitting
/// the axis. `None` for a reduction over the last axis, whose elements are
/// already neighbours (one workgroup per row reads them together).
fn column_workgroup(row_op: RowOp, inner: &Dim, row_wg: u32) -> Option<(u32, u32)> {
    let RowOp::Reduce { .. } = row_op else { return None };
    if *inner == Dim::new(1) {
        return None;
    }
    Some(if row_wg >= 64 { (64, 4) } else { (row_wg, 8) })
}

/// Direct 1-D convolution.
pub fn conv1d(ir: &Ir, plan: &FusionPlan, node: NodeId, conv: ConvShape) -> Result<KernelSpec, CompileError> {
    let mut b = ExprBuilder::new(ir, plan);
    let operands = ir.operands(node);
    for &o in &operands {
        b.buffer(o);
    }
    let ConvShape { stride, padding, dilation, groups } = conv;
    let x = ir.node(operands[0]).ty.shape.clone();
    let w = ir.node(operands[1]).ty.shape.clone();
    let out = ir.node(node).ty.shape.clone();
    // Channels and taps are static (shape inference requires it).
    let fixed = |d: &Dim, what: &str| {
        d.as_static().ok_or_else(|| CompileError::Unsupported {
            node: node.index(),
            op: "conv1d",
            detail: format!("{what} is `{d}`; the conv1d kernel needs it static"),
        })
    };
    let (c_in, c_out, taps) =
        (fixed(&x[1], "input channels")?, fixed(&w[0], "output channels")?, fixed(&w[2], "kernel size")?);
    let items = Dim::product(&out);
    let count = b.dim(&items);
    let (len_in, len_out) = (b.dim(&x[2]), b.dim(&out[2]));
    let bias = if operands.len() == 3 { "in2[co]".to_string() } else { "0.0".to_string() };
    let binds = bindings(ir, plan, node, &b.inputs)?;
    let values = [
        ("COMMON", shaders::COMMON.source.to_string()),
        ("BINDINGS", binds),
        ("WG", WG.to_string()),
        ("COUNT", count),
        ("LEN_IN", len_in),
        ("LEN_OUT", len_out),
        ("CIN_G", (c_in / groups).to_string()),
        ("COUT_G", (c_out / groups).to_string()),
        ("K", taps.to_string()),
        ("C_OUT", c_out.to_string()),
        ("C_IN", c_in.to_string()),
        ("STRIDE", stride.to_string()),
        ("DILATION", dilation.to_string()),
        ("PADDING", format!("{padding}i")),
        ("BIAS", bias),
    ];
    let refs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wgsl = fill(shaders::CONV1D, &refs)?;
    let name = format!("%{}:conv1d", node.index());
    Ok(finish(b, node, name, wgsl, Grid::Linear { items, per_group: WG }))
}
