//! Lowering kernel roots to WGSL: one generator per family, each filling its
//! template from shaders/ with index math computed here.

use super::expr::{literal, wgsl_type, ExprBuilder};
use super::shaders::{self, fill};
use crate::compile::fuse::FusionPlan;
use crate::graph::{DType, Dim, Ir, NodeId, Op, ReduceOp};

/// How many workgroups a kernel needs, as a function of the bindings.
#[derive(Debug, Clone, PartialEq)]
pub enum Grid {
    /// `ceil(items / per_group)` workgroups along x, folded into a 2-D grid
    /// past the 65,535 limit (kernels linearise `x + y * num_x`).
    Linear { items: Dim, per_group: u32 },
    /// A 3-D grid: `ceil(x / x_per)` by `ceil(y / y_per)` by `z`.
    Tiles { x: Dim, x_per: u32, y: Dim, y_per: u32, z: Dim },
}

/// One compute kernel ready for the runtime.
#[derive(Debug, Clone)]
pub struct KernelSpec {
    /// `%12:matmul+add+gelu` style label (node and ops it covers).
    pub name: String,
    /// The node whose value the kernel writes (binding 0).
    pub root: NodeId,
    pub wgsl: String,
    /// Values read, bindings 1..=n: storage buffers, except those in
    /// `textures`.
    pub inputs: Vec<NodeId>,
    /// Inputs bound as `texture_2d<f32>` of rgba32float texels instead: 2-D
    /// weights, each texel four consecutive values of a row (the matmul's
    /// B operand on CPU drivers, where texel fetches are vectorised and
    /// storage-buffer loads are not).
    pub textures: Vec<NodeId>,
    /// Sizes written to the params buffer (binding n+1) per run.
    pub params: Vec<Dim>,
    pub grid: Grid,
    /// Elements written; a kernel with zero is skipped.
    pub output_elements: Dim,
}

const WG: u32 = 256;
const ROW_WG: u32 = 64;

fn bindings(ir: &Ir, root: NodeId, inputs: &[NodeId]) -> String {
    bindings_typed(ir, root, inputs, &[], &[])
}

/// Bindings with some inputs read as `vec4<f32>` (buffers are sized in
/// 16-byte multiples, so this is always in bounds) and some as textures.
pub(super) fn bindings_typed(ir: &Ir, root: NodeId, inputs: &[NodeId], vec4: &[NodeId], textures: &[NodeId]) -> String {
    let mut s =
        format!("@group(0) @binding(0) var<storage, read_write> out: array<{}>;\n", wgsl_type(ir.node(root).ty.dtype));
    for (i, &n) in inputs.iter().enumerate() {
        if textures.contains(&n) {
            s.push_str(&format!("@group(0) @binding({}) var in{i}: texture_2d<f32>;\n", i + 1));
            continue;
        }
        let t = if vec4.contains(&n) { "vec4<f32>" } else { wgsl_type(ir.node(n).ty.dtype) };
        s.push_str(&format!("@group(0) @binding({}) var<storage, read> in{i}: array<{t}>;\n", i + 1));
    }
    s.push_str(&format!("@group(0) @binding({}) var<storage, read> P: array<u32>;\n", inputs.len() + 1));
    s
}

/// `%12:layer_norm` or `%12:matmul+add+gelu`.
pub(super) fn label(ir: &Ir, root: NodeId, fused: &[NodeId]) -> String {
    let mut ops: Vec<&str> = fused.iter().map(|&n| ir.node(n).op.name()).collect();
    ops.push(ir.node(root).op.name());
    ops.dedup();
    format!("%{}:{}", root.index(), ops.join("+"))
}

fn finish(b: ExprBuilder<'_>, root: NodeId, name: String, wgsl: String, grid: Grid) -> KernelSpec {
    let output_elements = Dim::product(&b.ir.node(root).ty.shape);
    KernelSpec {
        name,
        root,
        wgsl,
        inputs: b.inputs,
        textures: Vec::new(),
        params: b.params.dims,
        grid,
        output_elements,
    }
}

/// A fused elementwise kernel rooted at `root`.
pub fn elementwise(ir: &Ir, plan: &FusionPlan, root: NodeId) -> KernelSpec {
    let mut b = ExprBuilder::new(ir, plan);
    let shape = ir.node(root).ty.shape.clone();
    let items = Dim::product(&shape);
    let count = b.dim(&items);
    let coords = b.delinearize("i", &shape);
    let result = b.compute(root, &coords);
    let body = std::mem::take(&mut b.code);
    let wgsl = fill(
        shaders::ELEMENTWISE,
        &[
            ("COMMON", shaders::COMMON),
            ("BINDINGS", &bindings(ir, root, &b.inputs)),
            ("WG", &WG.to_string()),
            ("COUNT", &count),
            ("BODY", &body),
            ("RESULT", &result),
        ],
    );
    let name = format!("%{}:{}", root.index(), ir.node(root).op.name());
    finish(b, root, name, wgsl, Grid::Linear { items, per_group: WG })
}

/// `(rows, n, inner)` of a reduction over `axis` of `shape`.
fn around(shape: &[Dim], axis: usize) -> (Dim, Dim, Dim) {
    (
        Dim::product(&shape[..axis]) * Dim::product(&shape[axis + 1..]),
        shape[axis].clone(),
        Dim::product(&shape[axis + 1..]),
    )
}

/// Softmax, norms, reductions and argmax: one workgroup per row.
pub fn row(ir: &Ir, plan: &FusionPlan, node: NodeId) -> KernelSpec {
    let mut b = ExprBuilder::new(ir, plan);
    let n = ir.node(node);
    let operands = ir.operands(node);
    for &o in &operands {
        b.buffer(o);
    }
    let in_shape = ir.node(operands[0]).ty.shape.clone();
    let in_type = wgsl_type(ir.node(operands[0]).ty.dtype);
    let wg = ROW_WG.to_string();
    let row_common = |t: &str| fill(shaders::ROW_COMMON, &[("WG", &wg), ("T", t)]);
    let binds = bindings(ir, node, &b.inputs);
    // Every row kernel reduces along one axis: norms along the last.
    let axis = match &n.op {
        Op::Softmax { axis } | Op::Reduce { axis, .. } | Op::ArgMax { axis, .. } => *axis,
        _ => in_shape.len() - 1,
    };
    let (rows, len, inner) = around(&in_shape, axis);
    let (r, l, i) = (b.dim(&rows), b.dim(&len), b.dim(&inner));
    let rc = row_common(in_type);
    let dtype = ir.node(operands[0]).ty.dtype;
    // The placeholders particular to each kernel; the shared ones follow.
    let (template, own): (&str, Vec<(&str, String)>) = match &n.op {
        Op::Softmax { .. } => (shaders::SOFTMAX, vec![]),
        Op::LayerNorm { eps } | Op::RmsNorm { eps } => (
            shaders::NORM,
            vec![
                ("RMS", matches!(n.op, Op::RmsNorm { .. }).to_string()),
                ("EPS", literal(*eps, DType::F32)),
                ("BETA", if operands.len() == 3 { "in2[j]" } else { "0.0" }.to_string()),
            ],
        ),
        Op::Reduce { op, .. } => {
            let (init, combine, reduce, fin) = match op {
                ReduceOp::Sum => (format!("{in_type}(0)"), "acc + x", "reduce_sum", "total"),
                ReduceOp::Mean => (format!("{in_type}(0)"), "acc + x", "reduce_sum", "total / f32(n)"),
                ReduceOp::Max => (lowest(dtype), "select(acc, x, x > acc)", "reduce_max", "total"),
                ReduceOp::Min => (highest(dtype), "select(acc, x, x < acc)", "reduce_min", "total"),
            };
            let own = vec![
                ("INIT", init),
                ("COMBINE", combine.to_string()),
                ("REDUCE", reduce.to_string()),
                ("FINISH", fin.to_string()),
            ];
            (shaders::REDUCE, own)
        }
        Op::ArgMax { .. } => (shaders::ARGMAX, vec![("LOWEST", lowest(dtype))]),
        // Fusion routes only row ops here.
        _ => ("", vec![]),
    };
    let mut values: Vec<(&str, &str)> = vec![
        ("COMMON", shaders::COMMON),
        ("BINDINGS", binds.as_str()),
        ("ROW_COMMON", rc.as_str()),
        ("WG", wg.as_str()),
        ("ROWS", r.as_str()),
        ("N", l.as_str()),
        ("INNER", i.as_str()),
        ("T", in_type),
    ];
    values.extend(own.iter().map(|(k, v)| (*k, v.as_str())));
    let wgsl = fill(template, &values);
    let name = format!("%{}:{}", node.index(), n.op.name());
    finish(b, node, name, wgsl, Grid::Linear { items: rows, per_group: 1 })
}

fn lowest(d: DType) -> String {
    match wgsl_type(d) {
        "f32" => "-3.402823466e38".into(),
        "i32" => "i32(-2147483647 - 1)".into(),
        _ => "0u".into(),
    }
}

fn highest(d: DType) -> String {
    match wgsl_type(d) {
        "f32" => "3.402823466e38".into(),
        "i32" => "2147483647i".into(),
        _ => "4294967295u".into(),
    }
}

/// Direct 1-D convolution.
pub fn conv1d(ir: &Ir, plan: &FusionPlan, node: NodeId) -> KernelSpec {
    let mut b = ExprBuilder::new(ir, plan);
    let operands = ir.operands(node);
    for &o in &operands {
        b.buffer(o);
    }
    let Op::Conv1d { stride, padding, dilation, groups } = ir.node(node).op else {
        return elementwise(ir, plan, node);
    };
    let x = ir.node(operands[0]).ty.shape.clone();
    let w = ir.node(operands[1]).ty.shape.clone();
    let out = ir.node(node).ty.shape.clone();
    let st = |d: &Dim| d.as_static().unwrap_or(0).to_string();
    let (c_in, c_out, k) = (x[1].as_static().unwrap_or(0), w[0].as_static().unwrap_or(0), st(&w[2]));
    let items = Dim::product(&out);
    let count = b.dim(&items);
    let (len_in, len_out) = (b.dim(&x[2]), b.dim(&out[2]));
    let bias = if operands.len() == 3 { "in2[co]".to_string() } else { "0.0".to_string() };
    let binds = bindings(ir, node, &b.inputs);
    let vals = [
        ("COMMON", shaders::COMMON.to_string()),
        ("BINDINGS", binds),
        ("WG", WG.to_string()),
        ("COUNT", count),
        ("LEN_IN", len_in),
        ("LEN_OUT", len_out),
        ("CIN_G", (c_in / groups).to_string()),
        ("COUT_G", (c_out / groups).to_string()),
        ("K", k),
        ("C_OUT", c_out.to_string()),
        ("C_IN", c_in.to_string()),
        ("STRIDE", stride.to_string()),
        ("DILATION", dilation.to_string()),
        ("PADDING", format!("{padding}i")),
        ("BIAS", bias),
    ];
    let v: Vec<(&str, &str)> = vals.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wgsl = fill(shaders::CONV1D, &v);
    let name = format!("%{}:conv1d", node.index());
    finish(b, node, name, wgsl, Grid::Linear { items, per_group: WG })
}
