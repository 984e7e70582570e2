//! The matmul kernels: batched, operands read through strided views (a
//! transposed Linear weight is read in place), the epilogue fused, and for
//! the register-blocked kernel an operand layout chosen from the strides.

use super::expr::ExprBuilder;
use super::kernels::{bindings_typed, label, Grid, KernelSpec};
use super::shaders::{self, fill};
use crate::compile::fuse::FusionPlan;
use crate::compile::view::{contiguous_strides, strided_view, StridedView};
use crate::graph::{Dim, Ir, NodeId};

/// Matmul strategies; which is faster depends on the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulKernel {
    /// Register blocking, no workgroup memory (CPU drivers such as lavapipe):
    /// a `tm x tn` block per invocation, `wx x wy` invocations. With
    /// `subgroup_a`, A's values (when read as vec4 along k) are loaded once
    /// per subgroup and broadcast; it needs subgroups of exactly `wx` lanes.
    Register { tm: u32, tn: u32, wx: u32, wy: u32, subgroup_a: bool },
    /// Workgroup-memory tiles (discrete GPUs).
    Tiled { tile: u32, tm: u32 },
}

/// A matmul `mm` whose result flows through the epilogue ending at `root`
/// (`root == mm` when nothing is fused).
/// `max_texture_side` is the largest texture the device allows for a B
/// weight read as a texture (0: never).
pub fn matmul(
    ir: &Ir,
    plan: &FusionPlan,
    mm: NodeId,
    root: NodeId,
    kernel: MatmulKernel,
    max_texture_side: u32,
) -> KernelSpec {
    let mut b = ExprBuilder::new(ir, plan);
    let operands = ir.operands(mm);
    let views: Vec<_> = operands
        .iter()
        .map(|&o| {
            strided_view(ir, o, &plan.materialised).unwrap_or_else(|| StridedView {
                base: o,
                shape: ir.node(o).ty.shape.clone(),
                strides: contiguous_strides(&ir.node(o).ty.shape),
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
    let base_of = |b: &mut ExprBuilder<'_>, v: &StridedView| {
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
    let b_texture = matches!(kernel, MatmulKernel::Register { .. })
        && a.base != bv.base
        && texture_weight(ir, bv, layout, max_texture_side);
    let textures = if b_texture { vec![bv.base] } else { Vec::new() };
    let inputs = b.inputs.clone();
    let binds = bindings_typed(ir, root, &inputs, &vec4_buffers, &textures);
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
        MatmulKernel::Register { tm, tn, wx, wy, subgroup_a } => (
            shaders::MATMUL_REGISTER,
            {
                let subgroup_a = subgroup_a && matches!(layout, Layout::VecK | Layout::VecKN);
                let mut v = vec![
                    ("TM", tm.to_string()),
                    ("TN", tn.to_string()),
                    ("WX", wx.to_string()),
                    ("WY", wy.to_string()),
                    ("WG", (wx * wy).to_string()),
                    (
                        "LANE_ARG",
                        if subgroup_a { ", @builtin(subgroup_invocation_id) lane: u32" } else { "" }.to_string(),
                    ),
                ];
                let block = Block { tm, tn, wx, wy, layout, subgroup_a, b_texture };
                v.extend(register_block(block, &call_coords));
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
    KernelSpec { name, root, wgsl, inputs, textures, params: b.params.dims, grid, output_elements }
}

/// Whether B can be read from a texture: a 2-D weight (uploaded once, so
/// the texture copy is free at run time) read whole, row-major for `VecKN`
/// or transposed in place for `VecK`, its rows a whole number of texels and
/// both texture sides within the device's limit.
fn texture_weight(ir: &Ir, b: &StridedView, layout: Layout, max_side: u32) -> bool {
    let node = ir.node(b.base);
    let (true, [rows, cols]) = (matches!(node.op, crate::graph::Op::Weight { .. }), node.ty.shape.as_slice()) else {
        return false;
    };
    let (Some(r), Some(c)) = (rows.as_static(), cols.as_static()) else { return false };
    let fits = max_side > 0 && c % 4 == 0 && c / 4 <= max_side as usize && r <= max_side as usize;
    let (rows, cols, one) = (rows.clone(), cols.clone(), Dim::new(1));
    let whole = match layout {
        Layout::VecKN => b.shape == [rows, cols.clone()] && b.strides == [cols, one],
        Layout::VecK => b.shape == [cols.clone(), rows] && b.strides == [one, cols],
        Layout::Scalar | Layout::VecN => false,
    };
    fits && whole
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

/// What one register-blocked kernel is generated for.
#[derive(Debug, Clone, Copy)]
struct Block {
    tm: u32,
    tn: u32,
    wx: u32,
    wy: u32,
    layout: Layout,
    /// A shared across the subgroup (see `subgroup_loop`).
    subgroup_a: bool,
    /// B read from a texture (see `texture_weight`).
    b_texture: bool,
}

/// The unrolled body of the register-blocked matmul: per-row and
/// per-column offsets, accumulators, the k loop with loads and FMAs, and
/// guarded stores through the epilogue. Offsets of vec4 operands are in
/// vec4 units.
fn register_block(block: Block, call_coords: &[String]) -> Vec<(&'static str, String)> {
    let Block { tm, tn, wx, wy, layout, subgroup_a, b_texture } = block;
    let batch_args: String = call_coords[..call_coords.len() - 2].iter().map(|c| format!("{c}, ")).collect();
    // The k loop's body: A's loads, then everything else (B's loads and the FMAs).
    let (mut offsets, mut decl, mut a_loads, mut body, mut stores) =
        (String::new(), String::new(), String::new(), String::new(), String::new());
    // Results go to a private array in block order (row-major, tn per
    // row), then one loop stores them through the epilogue: the epilogue
    // is generated once, not tm * tn times, which keeps large fused blocks
    // quick to compile; the loop runs once per invocation.
    let next = std::cell::Cell::new(0u32);
    let store = |value: &str| {
        let i = next.get();
        next.set(i + 1);
        format!("    res[{i}] = {value};\n")
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
            (0..tm).for_each(|r| a_loads.push_str(&format!("        let a{r} = {{{{A}}}}[ra{r} + ka];\n")));
            (0..tn).for_each(|c| body.push_str(&format!("        let b{c} = {{{{B}}}}[cb{c} + kb];\n")));
            for r in 0..tm {
                for c in 0..tn {
                    decl.push_str(&format!("    var acc{r}_{c} = 0.0;\n"));
                    body.push_str(&format!("        acc{r}_{c} = fma(a{r}, b{c}, acc{r}_{c});\n"));
                    stores.push_str(&store(&format!("acc{r}_{c}")));
                }
            }
        }
        Layout::VecN => {
            let groups = column_groups(tn, wx, &mut offsets);
            (0..tm).for_each(|r| a_loads.push_str(&format!("        let a{r} = {{{{A}}}}[ra{r} + ka];\n")));
            (0..groups).for_each(|g| body.push_str(&format!("        let b{g} = {{{{B}}}}[cb{g} + kb / 4u];\n")));
            for r in 0..tm {
                for g in 0..groups {
                    body.push_str(&format!("        acc{r}_{g} = fma(vec4<f32>(a{r}), b{g}, acc{r}_{g});\n"));
                }
            }
            group_accumulators(tm, groups, &store, &mut decl, &mut stores);
        }
        Layout::VecKN => {
            let groups = column_groups(tn, wx, &mut offsets);
            (0..tm).for_each(|r| a_loads.push_str(&format!("        let a{r} = {{{{A}}}}[ra{r} + k];\n")));
            for (kk, lane) in ["x", "y", "z", "w"].iter().enumerate() {
                if b_texture {
                    for g in 0..groups {
                        body.push_str(&format!(
                            "        let b{g}_{kk} = textureLoad({{{{B}}}}, vec2<u32>(cb{g}, k * 4u + {kk}u), 0);\n"
                        ));
                    }
                } else {
                    body.push_str(&format!("        let kb{kk} = (k * 4u + {kk}u) * ({{{{SBK}}}} / 4u);\n"));
                    for g in 0..groups {
                        body.push_str(&format!("        let b{g}_{kk} = {{{{B}}}}[cb{g} + kb{kk}];\n"));
                    }
                }
                for r in 0..tm {
                    for g in 0..groups {
                        body.push_str(&format!(
                            "        acc{r}_{g} = fma(vec4<f32>(a{r}.{lane}), b{g}_{kk}, acc{r}_{g});\n"
                        ));
                    }
                }
            }
            group_accumulators(tm, groups, &store, &mut decl, &mut stores);
        }
        Layout::VecK => {
            for c in 0..tn {
                offsets.push_str(&format!("    let col{c} = col_start + {}u;\n", c * wx));
                offsets.push_str(&if b_texture {
                    format!("    let cb{c} = min(col{c}, N - 1u);\n")
                } else {
                    format!("    let cb{c} = (b_base + min(col{c}, N - 1u) * {{{{SBN}}}}) / 4u;\n")
                });
            }
            (0..tm).for_each(|r| a_loads.push_str(&format!("        let a{r} = {{{{A}}}}[ra{r} + k];\n")));
            for c in 0..tn {
                body.push_str(&if b_texture {
                    format!("        let b{c} = textureLoad({{{{B}}}}, vec2<u32>(k, cb{c}), 0);\n")
                } else {
                    format!("        let b{c} = {{{{B}}}}[cb{c} + k];\n")
                });
            }
            for r in 0..tm {
                for c in 0..tn {
                    decl.push_str(&format!("    var acc{r}_{c} = vec4<f32>(0.0);\n"));
                    body.push_str(&format!("        acc{r}_{c} = fma(a{r}, b{c}, acc{r}_{c});\n"));
                    let sum = format!("(acc{r}_{c}.x + acc{r}_{c}.y) + (acc{r}_{c}.z + acc{r}_{c}.w)");
                    stores.push_str(&store(&sum));
                }
            }
        }
    }
    let lp = if subgroup_a { subgroup_loop(tm, wx, &body) } else { format!("{loop_head}{a_loads}{body}    }}\n") };
    let count = tm * tn;
    let col = match layout {
        Layout::Scalar | Layout::VecK => format!("col_start + c * {wx}u"),
        Layout::VecN | Layout::VecKN => {
            format!("(wid.x * {wx}u * {groups}u + lid.x + (c / 4u) * {wx}u) * 4u + c % 4u", groups = tn / 4)
        }
    };
    let stores = format!(
        "    var res: array<f32, {count}>;\n{stores}    for (var i = 0u; i < {count}u; i++) {{\n        \
         let r = i / {tn}u;\n        let c = i % {tn}u;\n        let row = row_start + r * {wy}u;\n        \
         let col = {col};\n        if (row < M && col < N) {{ out[o_base + row * N + col] = \
         epilogue(res[i], {batch_args}row, col); }}\n    }}\n"
    );
    vec![("OFFSETS", offsets), ("ACC_DECL", decl), ("LOOP", lp), ("STORES", stores)]
}

/// The k loop (in vec4 steps along k) with A shared across a subgroup of
/// `lanes`: in each run of `lanes` steps, lane `j` loads step `j` of every
/// row and `subgroupBroadcast` gives it to all; the steps past the last
/// full run load A directly.
fn subgroup_loop(tm: u32, lanes: u32, body: &str) -> String {
    let mut lp = format!("    let full = (K / 4u) / {lanes}u * {lanes}u;\n");
    lp.push_str(&format!("    for (var k0 = 0u; k0 < full; k0 += {lanes}u) {{\n"));
    (0..tm).for_each(|r| lp.push_str(&format!("        let s{r} = {{{{A}}}}[ra{r} + k0 + lane];\n")));
    for j in 0..lanes {
        lp.push_str(&format!("        {{\n        let k = k0 + {j}u;\n"));
        (0..tm).for_each(|r| lp.push_str(&format!("        let a{r} = subgroupBroadcast(s{r}, {j}u);\n")));
        lp.push_str(body);
        lp.push_str("        }\n");
    }
    lp.push_str("    }\n    for (var k = full; k < K / 4u; k++) {\n");
    (0..tm).for_each(|r| lp.push_str(&format!("        let a{r} = {{{{A}}}}[ra{r} + k];\n")));
    lp.push_str(body);
    lp.push_str("    }\n");
    lp
}

/// Column groups of 4 (vec4 of B), interleaved across the workgroup: their
/// offsets in vec4 units. Returns the number of groups.
fn column_groups(tn: u32, wx: u32, offsets: &mut String) -> u32 {
    let groups = tn / 4;
    for g in 0..groups {
        offsets.push_str(&format!("    let col{g} = (wid.x * {wx}u * {groups}u + lid.x + {}u) * 4u;\n", g * wx));
        offsets.push_str(&format!("    let cb{g} = (b_base + min(col{g}, N - 4u)) / 4u;\n"));
    }
    groups
}

/// vec4 accumulators per (row, column group), each lane to the results.
fn group_accumulators(tm: u32, groups: u32, store: &dyn Fn(&str) -> String, decl: &mut String, stores: &mut String) {
    for r in 0..tm {
        for g in 0..groups {
            decl.push_str(&format!("    var acc{r}_{g} = vec4<f32>(0.0);\n"));
            for lane in ["x", "y", "z", "w"] {
                stores.push_str(&store(&format!("acc{r}_{g}.{lane}")));
            }
        }
    }
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
