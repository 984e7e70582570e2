//! Lowering kernel roots to WGSL: one generator per family, each filling its
//! template from shaders/ with index math computed here.

use super::expr::{literal, wgsl_type, ExprBuilder};
use super::shaders::{self, fill};
use crate::compile::fuse::FusionPlan;
use crate::compile::view::{strided_view, StridedView};
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
    /// Buffers read, bindings 1..=n.
    pub inputs: Vec<NodeId>,
    /// Sizes written to the params buffer (binding n+1) per run.
    pub params: Vec<Dim>,
    pub grid: Grid,
    /// Elements written; a kernel with zero is skipped.
    pub output_elements: Dim,
}

/// Matmul strategies; which is faster depends on the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulKernel {
    /// Register blocking, no workgroup memory (CPU drivers such as lavapipe).
    Register { tm: u32, tn: u32, wx: u32, wy: u32 },
    /// Workgroup-memory tiles (discrete GPUs).
    Tiled { tile: u32, tm: u32 },
}

const WG: u32 = 256;
const ROW_WG: u32 = 64;

fn bindings(ir: &Ir, root: NodeId, inputs: &[NodeId]) -> String {
    bindings_typed(ir, root, inputs, &[])
}

/// Bindings with some inputs read as `vec4<f32>` (buffers are sized in
/// 16-byte multiples, so this is always in bounds).
fn bindings_typed(ir: &Ir, root: NodeId, inputs: &[NodeId], vec4: &[NodeId]) -> String {
    let mut s =
        format!("@group(0) @binding(0) var<storage, read_write> out: array<{}>;\n", wgsl_type(ir.node(root).ty.dtype));
    for (i, &n) in inputs.iter().enumerate() {
        let t = if vec4.contains(&n) { "vec4<f32>" } else { wgsl_type(ir.node(n).ty.dtype) };
        s.push_str(&format!("@group(0) @binding({}) var<storage, read> in{i}: array<{t}>;\n", i + 1));
    }
    s.push_str(&format!("@group(0) @binding({}) var<storage, read> P: array<u32>;\n", inputs.len() + 1));
    s
}

/// `%12:layer_norm` or `%12:matmul+add+gelu`.
fn label(ir: &Ir, root: NodeId, fused: &[NodeId]) -> String {
    let mut ops: Vec<&str> = fused.iter().map(|&n| ir.node(n).op.name()).collect();
    ops.push(ir.node(root).op.name());
    ops.dedup();
    format!("%{}:{}", root.index(), ops.join("+"))
}

fn finish(b: ExprBuilder<'_>, root: NodeId, name: String, wgsl: String, grid: Grid) -> KernelSpec {
    let output_elements = Dim::product(&b.ir.node(root).ty.shape);
    KernelSpec { name, root, wgsl, inputs: b.inputs, params: b.params.dims, grid, output_elements }
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

/// A matmul `mm` whose result flows through the epilogue ending at `root`
/// (`root == mm` when nothing is fused).
pub fn matmul(ir: &Ir, plan: &FusionPlan, mm: NodeId, root: NodeId, kernel: MatmulKernel) -> KernelSpec {
    let mut b = ExprBuilder::new(ir, plan);
    let operands = ir.operands(mm);
    let views: Vec<_> = operands
        .iter()
        .map(|&o| {
            strided_view(ir, o, &plan.materialised).unwrap_or_else(|| crate::compile::view::StridedView {
                base: o,
                shape: ir.node(o).ty.shape.clone(),
                strides: crate::compile::view::contiguous_strides(&ir.node(o).ty.shape),
            })
        })
        .collect();
    let (a, bv) = (&views[0], &views[1]);
    let out_shape = ir.node(mm).ty.shape.clone();
    let r = out_shape.len();
    let (m, n, k) = (out_shape[r - 2].clone(), out_shape[r - 1].clone(), a.shape[a.shape.len() - 1].clone());
    let batch_shape = out_shape[..r - 2].to_vec();
    let batch = Dim::product(&batch_shape);
    let (m_e, n_e, k_e) = (b.dim(&m), b.dim(&n), b.dim(&k));
    let a_buf = b.buffer(a.base);
    let b_buf = b.buffer(bv.base);

    // Batch coordinates, then each operand's base offset (broadcast axes read 0).
    let bc = b.delinearize("batch", &batch_shape);
    let base_of = |b: &mut ExprBuilder<'_>, v: &crate::compile::view::StridedView| {
        let vb = v.shape.len() - 2;
        let pad = batch_shape.len() - vb;
        let coords: Vec<String> =
            (0..vb).map(|i| if v.shape[i] == Dim::new(1) { "0u".to_string() } else { bc[pad + i].clone() }).collect();
        b.linearize(&coords, &v.strides[..vb])
    };
    let a_base = base_of(&mut b, a);
    let b_base = base_of(&mut b, bv);
    let mn = b.dim(&(&m * &n));
    b.line(format!("let a_base = {a_base};"));
    b.line(format!("let b_base = {b_base};"));
    b.line(format!("let o_base = batch * {mn};"));
    let batch_code = std::mem::take(&mut b.code);
    let (sam, sak) = (b.dim(&a.strides[a.shape.len() - 2]), b.dim(&a.strides[a.shape.len() - 1]));
    let (sbk, sbn) = (b.dim(&bv.strides[bv.shape.len() - 2]), b.dim(&bv.strides[bv.shape.len() - 1]));

    // The epilogue: the root's value with the matmul result in a register.
    let names: Vec<String> = (0..batch_shape.len()).map(|i| format!("e{i}")).collect();
    let mut epi_coords = names.clone();
    epi_coords.push("row".into());
    epi_coords.push("col".into());
    b.register = Some((mm, "acc".into()));
    b.reads.clear();
    let result = if root == mm { "acc".to_string() } else { b.compute(root, &epi_coords) };
    let epi_body = std::mem::take(&mut b.code);
    let epi_args: String = epi_coords.iter().map(|c| format!(", {c}: u32")).collect();
    let call_coords: Vec<String> = bc.iter().cloned().chain(["row".to_string(), "col".to_string()]).collect();
    let epi_call: String = call_coords.iter().map(|c| format!(", {c}")).collect();

    // Operands read as vec4 need their own binding type; a buffer the
    // epilogue also reads stays scalar.
    let epilogue_reads = b.reads.clone();
    let layout = match kernel {
        MatmulKernel::Register { tn, .. } => {
            let l = choose_layout(a, bv, &k, &n, a.base == bv.base);
            let clash = epilogue_reads.iter().any(|&x| x == a.base || x == bv.base)
                || (matches!(l, Layout::VecN | Layout::VecKN) && tn % 4 != 0);
            if clash {
                Layout::Scalar
            } else {
                l
            }
        }
        MatmulKernel::Tiled { .. } => Layout::Scalar,
    };
    let vec4_buffers: Vec<NodeId> = match layout {
        Layout::Scalar => vec![],
        Layout::VecN => vec![bv.base],
        Layout::VecK | Layout::VecKN => vec![a.base, bv.base],
    };
    let inputs = b.inputs.clone();
    let binds = bindings_typed(ir, root, &inputs, &vec4_buffers);
    let common: Vec<(&str, String)> = vec![
        ("BINDINGS", binds),
        ("M", m_e),
        ("N", n_e),
        ("K", k_e),
        ("A", a_buf),
        ("B", b_buf),
        ("SAM", sam),
        ("SAK", sak),
        ("SBK", sbk),
        ("SBN", sbn),
        ("BATCH", batch_code),
        ("EPI_ARGS", epi_args),
        ("EPI_BODY", epi_body),
        ("EPI_RESULT", result),
        ("EPI_CALL", epi_call),
    ];
    let (template, extra, grid) = match kernel {
        MatmulKernel::Register { tm, tn, wx, wy } => (
            shaders::MATMUL_REGISTER,
            {
                let mut v = vec![
                    ("TM", tm.to_string()),
                    ("TN", tn.to_string()),
                    ("WX", wx.to_string()),
                    ("WY", wy.to_string()),
                ];
                v.extend(register_block(tm, tn, wx, wy, layout, &call_coords));
                v
            },
            Grid::Tiles { x: n.clone(), x_per: wx * tn, y: m.clone(), y_per: wy * tm, z: batch },
        ),
        MatmulKernel::Tiled { tile, tm } => (
            shaders::MATMUL_TILED,
            vec![
                ("TILE", tile.to_string()),
                ("TM", tm.to_string()),
                ("THREADS", ((tile / tm) * (tile / tm)).to_string()),
                ("TILE2", (tile * tile).to_string()),
                ("TMTM", (tm * tm).to_string()),
            ],
            Grid::Tiles { x: n.clone(), x_per: tile, y: m.clone(), y_per: tile, z: batch },
        ),
    };
    // The generated block may itself contain placeholders (`{{A}}`), so it goes in first.
    let mut values: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
    values.push(("COMMON", shaders::COMMON));
    values.extend(common.iter().map(|(k, v)| (*k, v.as_str())));
    let wgsl = fill(template, &values);
    let fused = epilogue_nodes(ir, mm, root);
    let name = label(ir, root, &fused);
    let output_elements = Dim::product(&ir.node(root).ty.shape);
    KernelSpec { name, root, wgsl, inputs, params: b.params.dims, grid, output_elements }
}

/// How the register-blocked matmul reads its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// Scalar loads, any strides.
    Scalar,
    /// B contiguous along n: B read as vec4 of 4 columns, A scalar.
    VecN,
    /// B contiguous along n and A along k: A read as vec4 of 4 k-steps,
    /// B as vec4 of 4 columns per k-step.
    VecKN,
    /// A and B contiguous along k (a transposed Linear weight): both read
    /// as vec4 of 4 k-steps, accumulated as vec4 and summed at the end.
    VecK,
}

/// Picks the widest layout the (static) strides allow.
fn choose_layout(a: &StridedView, b: &StridedView, k: &Dim, n: &Dim, same_buffer: bool) -> Layout {
    let (ar, br) = (a.shape.len(), b.shape.len());
    let four = |d: &Dim| d.divisible_by(4);
    let batch_ok = |v: &StridedView, r: usize| v.strides[..r - 2].iter().all(four);
    let one = Dim::new(1);
    let vec_k = a.strides[ar - 1] == one
        && b.strides[br - 2] == one
        && four(k)
        && four(&a.strides[ar - 2])
        && four(&b.strides[br - 1])
        && batch_ok(a, ar)
        && batch_ok(b, br);
    if vec_k {
        return Layout::VecK;
    }
    let vec_n = !same_buffer && b.strides[br - 1] == one && four(n) && four(&b.strides[br - 2]) && batch_ok(b, br);
    let a_along_k = a.strides[ar - 1] == one && four(k) && four(&a.strides[ar - 2]) && batch_ok(a, ar);
    match (vec_n, a_along_k) {
        (true, true) => Layout::VecKN,
        (true, false) => Layout::VecN,
        _ => Layout::Scalar,
    }
}

/// The unrolled body of the register-blocked matmul: per-row and
/// per-column offsets, accumulators, the k loop with loads and FMAs, and
/// guarded stores through the epilogue. Offsets of vec4 operands are in
/// vec4 units.
fn register_block(
    tm: u32,
    tn: u32,
    wx: u32,
    wy: u32,
    layout: Layout,
    call_coords: &[String],
) -> Vec<(&'static str, String)> {
    let batch_args: String = call_coords[..call_coords.len() - 2].iter().map(|c| format!("{c}, ")).collect();
    let (mut offsets, mut decl, mut body, mut stores) = (String::new(), String::new(), String::new(), String::new());
    let store = |r: u32, col: &str, value: &str| {
        format!(
            "    if (row{r} < M && {col} < N) {{ out[o_base + row{r} * N + {col}] = epilogue({value}, {batch_args}row{r}, {col}); }}\n"
        )
    };
    for r in 0..tm {
        offsets.push_str(&format!("    let row{r} = row_start + {}u;\n", r * wy));
        let ra = format!("a_base + min(row{r}, M - 1u) * {{{{SAM}}}}");
        offsets.push_str(&match layout {
            Layout::VecK | Layout::VecKN => format!("    let ra{r} = ({ra}) / 4u;\n"),
            _ => format!("    let ra{r} = {ra};\n"),
        });
    }
    let loop_head = match layout {
        Layout::VecK | Layout::VecKN => "    for (var k = 0u; k < K / 4u; k++) {\n".to_string(),
        _ => "    for (var k = 0u; k < K; k++) {\n        let ka = k * {{SAK}};\n        let kb = k * {{SBK}};\n"
            .to_string(),
    };
    match layout {
        Layout::Scalar => {
            for c in 0..tn {
                offsets.push_str(&format!("    let col{c} = col_start + {}u;\n", c * wx));
                offsets.push_str(&format!("    let cb{c} = b_base + min(col{c}, N - 1u) * {{{{SBN}}}};\n"));
            }
            (0..tm).for_each(|r| body.push_str(&format!("        let a{r} = {{{{A}}}}[ra{r} + ka];\n")));
            (0..tn).for_each(|c| body.push_str(&format!("        let b{c} = {{{{B}}}}[cb{c} + kb];\n")));
            for r in 0..tm {
                for c in 0..tn {
                    decl.push_str(&format!("    var acc{r}_{c} = 0.0;\n"));
                    body.push_str(&format!("        acc{r}_{c} = fma(a{r}, b{c}, acc{r}_{c});\n"));
                    stores.push_str(&store(r, &format!("col{c}"), &format!("acc{r}_{c}")));
                }
            }
        }
        Layout::VecN => {
            // Column groups of 4, interleaved across the workgroup.
            let groups = tn / 4;
            for g in 0..groups {
                offsets
                    .push_str(&format!("    let col{g} = (wid.x * {wx}u * {groups}u + lid.x + {}u) * 4u;\n", g * wx));
                offsets.push_str(&format!("    let cb{g} = (b_base + min(col{g}, N - 4u)) / 4u;\n"));
            }
            (0..tm).for_each(|r| body.push_str(&format!("        let a{r} = {{{{A}}}}[ra{r} + ka];\n")));
            (0..groups).for_each(|g| body.push_str(&format!("        let b{g} = {{{{B}}}}[cb{g} + kb / 4u];\n")));
            for r in 0..tm {
                for g in 0..groups {
                    decl.push_str(&format!("    var acc{r}_{g} = vec4<f32>(0.0);\n"));
                    body.push_str(&format!("        acc{r}_{g} = fma(vec4<f32>(a{r}), b{g}, acc{r}_{g});\n"));
                    for (j, lane) in ["x", "y", "z", "w"].iter().enumerate() {
                        stores.push_str(&store(r, &format!("(col{g} + {j}u)"), &format!("acc{r}_{g}.{lane}")));
                    }
                }
            }
        }
        Layout::VecKN => {
            let groups = tn / 4;
            for g in 0..groups {
                offsets
                    .push_str(&format!("    let col{g} = (wid.x * {wx}u * {groups}u + lid.x + {}u) * 4u;\n", g * wx));
                offsets.push_str(&format!("    let cb{g} = (b_base + min(col{g}, N - 4u)) / 4u;\n"));
            }
            (0..tm).for_each(|r| body.push_str(&format!("        let a{r} = {{{{A}}}}[ra{r} + k];\n")));
            for kk in 0..4 {
                body.push_str(&format!("        let kb{kk} = (k * 4u + {kk}u) * ({{{{SBK}}}} / 4u);\n"));
                for g in 0..groups {
                    body.push_str(&format!("        let b{g}_{kk} = {{{{B}}}}[cb{g} + kb{kk}];\n"));
                }
                for r in 0..tm {
                    let lane = ["x", "y", "z", "w"][kk];
                    for g in 0..groups {
                        body.push_str(&format!(
                            "        acc{r}_{g} = fma(vec4<f32>(a{r}.{lane}), b{g}_{kk}, acc{r}_{g});\n"
                        ));
                    }
                }
            }
            for r in 0..tm {
                for g in 0..groups {
                    decl.push_str(&format!("    var acc{r}_{g} = vec4<f32>(0.0);\n"));
                    for (j, lane) in ["x", "y", "z", "w"].iter().enumerate() {
                        stores.push_str(&store(r, &format!("(col{g} + {j}u)"), &format!("acc{r}_{g}.{lane}")));
                    }
                }
            }
        }
        Layout::VecK => {
            for c in 0..tn {
                offsets.push_str(&format!("    let col{c} = col_start + {}u;\n", c * wx));
                offsets.push_str(&format!("    let cb{c} = (b_base + min(col{c}, N - 1u) * {{{{SBN}}}}) / 4u;\n"));
            }
            (0..tm).for_each(|r| body.push_str(&format!("        let a{r} = {{{{A}}}}[ra{r} + k];\n")));
            (0..tn).for_each(|c| body.push_str(&format!("        let b{c} = {{{{B}}}}[cb{c} + k];\n")));
            for r in 0..tm {
                for c in 0..tn {
                    decl.push_str(&format!("    var acc{r}_{c} = vec4<f32>(0.0);\n"));
                    body.push_str(&format!("        acc{r}_{c} = fma(a{r}, b{c}, acc{r}_{c});\n"));
                    let sum = format!("(acc{r}_{c}.x + acc{r}_{c}.y) + (acc{r}_{c}.z + acc{r}_{c}.w)");
                    stores.push_str(&store(r, &format!("col{c}"), &sum));
                }
            }
        }
    }
    let lp = format!("{loop_head}{body}    }}\n");
    vec![("OFFSETS", offsets), ("ACC_DECL", decl), ("LOOP", lp), ("STORES", stores)]
}

/// The nodes between a fused matmul and its epilogue root, matmul first.
fn epilogue_nodes(ir: &Ir, mm: NodeId, root: NodeId) -> Vec<NodeId> {
    let mut chain = vec![mm];
    let mut cur = mm;
    while cur != root {
        match ir.users(cur).first() {
            Some(&u) => {
                chain.push(u);
                cur = u;
            }
            None => break,
        }
    }
    chain.pop();
    chain
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
    let (rows, wgsl) = match &n.op {
        Op::Softmax { axis } => {
            let (rows, len, inner) = around(&in_shape, *axis);
            let (r, l, i) = (b.dim(&rows), b.dim(&len), b.dim(&inner));
            let rc = row_common("f32");
            let v = [
                ("COMMON", shaders::COMMON),
                ("BINDINGS", binds.as_str()),
                ("ROW_COMMON", rc.as_str()),
                ("WG", wg.as_str()),
                ("ROWS", r.as_str()),
                ("N", l.as_str()),
                ("INNER", i.as_str()),
            ];
            (rows, fill(shaders::SOFTMAX, &v))
        }
        Op::LayerNorm { eps } | Op::RmsNorm { eps } => {
            let last = in_shape.len() - 1;
            let (rows, len, _) = around(&in_shape, last);
            let (r, l) = (b.dim(&rows), b.dim(&len));
            let rms = matches!(n.op, Op::RmsNorm { .. }).to_string();
            let e = literal(*eps, DType::F32);
            let rc = row_common("f32");
            let v = [
                ("COMMON", shaders::COMMON),
                ("BINDINGS", binds.as_str()),
                ("ROW_COMMON", rc.as_str()),
                ("WG", wg.as_str()),
                ("ROWS", r.as_str()),
                ("N", l.as_str()),
                ("RMS", rms.as_str()),
                ("EPS", e.as_str()),
                ("BETA", if operands.len() == 3 { "in2[j]" } else { "0.0" }),
            ];
            (rows, fill(shaders::NORM, &v))
        }
        Op::Reduce { op, axis, .. } => {
            let (rows, len, inner) = around(&in_shape, *axis);
            let (r, l, i) = (b.dim(&rows), b.dim(&len), b.dim(&inner));
            let dtype = ir.node(operands[0]).ty.dtype;
            let (init, combine, reduce, fin) = match op {
                ReduceOp::Sum => (format!("{in_type}(0)"), "acc + x", "reduce_sum", "total".to_string()),
                ReduceOp::Mean => (format!("{in_type}(0)"), "acc + x", "reduce_sum", "total / f32(n)".to_string()),
                ReduceOp::Max => (lowest(dtype), "select(acc, x, x > acc)", "reduce_max", "total".to_string()),
                ReduceOp::Min => (highest(dtype), "select(acc, x, x < acc)", "reduce_min", "total".to_string()),
            };
            let rc = row_common(in_type);
            let v = [
                ("COMMON", shaders::COMMON),
                ("BINDINGS", binds.as_str()),
                ("ROW_COMMON", rc.as_str()),
                ("WG", wg.as_str()),
                ("ROWS", r.as_str()),
                ("N", l.as_str()),
                ("INNER", i.as_str()),
                ("T", in_type),
                ("INIT", init.as_str()),
                ("COMBINE", combine),
                ("REDUCE", reduce),
                ("FINISH", fin.as_str()),
            ];
            (rows, fill(shaders::REDUCE, &v))
        }
        Op::ArgMax { axis, .. } => {
            let (rows, len, inner) = around(&in_shape, *axis);
            let (r, l, i) = (b.dim(&rows), b.dim(&len), b.dim(&inner));
            let low = lowest(ir.node(operands[0]).ty.dtype);
            let v = [
                ("COMMON", shaders::COMMON),
                ("BINDINGS", binds.as_str()),
                ("WG", wg.as_str()),
                ("ROWS", r.as_str()),
                ("N", l.as_str()),
                ("INNER", i.as_str()),
                ("T", in_type),
                ("LOWEST", low.as_str()),
            ];
            (rows, fill(shaders::ARGMAX, &v))
        }
        // Fusion routes only row ops here.
        _ => (Dim::new(0), String::new()),
    };
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
