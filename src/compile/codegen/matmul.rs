//! The matmul kernels: batched, operands read through strided views (a
//! transposed Linear weight is read in place), the epilogue fused, and for
//! the register-blocked kernel an operand layout chosen from the strides.

use super::expr::ExprBuilder;
use super::kernels::{bindings_typed, label, weight_fold, Grid, KernelSpec, TextureCopy};
use super::loop_bound::LoopBound;
use super::register_block::{register_block, Block, Layout, Operands};
use super::shaders::{self, fill};
use crate::compile::error::CompileError;
use crate::compile::fuse::FusionPlan;
use crate::compile::view::{view_or_buffer, StridedView};
use crate::graph::{DType, Dim, Ir, NodeId};

/// Matmul strategies; which is faster depends on the adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulKernel {
    /// Register blocking, no workgroup memory (CPU drivers such as lavapipe):
    /// a `tm x tn` block per invocation, `wx x wy` invocations. With
    /// `subgroup_a`, A's values (when read as vec4 along k) are loaded once
    /// per subgroup and broadcast; it needs subgroups of exactly `wx` lanes.
    Register {
        /// Output rows per invocation.
        tm: u32,
        /// Output columns per invocation.
        tn: u32,
        /// Invocations along x (columns) per workgroup.
        wx: u32,
        /// Invocations along y (rows) per workgroup.
        wy: u32,
        /// Share A's loads across a subgroup of `wx` lanes.
        subgroup_a: bool,
    },
    /// Workgroup-memory tiles (discrete GPUs).
    Tiled {
        /// Side of the square output tile one workgroup computes.
        tile: u32,
        /// Side of the square block one invocation computes.
        tm: u32,
    },
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
) -> Result<KernelSpec, CompileError> {
    let mut b = ExprBuilder::new(ir, plan);
    let operands = ir.operands(mm);
    let views: Vec<_> = operands.iter().map(|&o| view_or_buffer(ir, o, &plan.materialised)).collect();
    let (a, bv) = (&views[0], &views[1]);
    if !(a.at_origin() && bv.at_origin()) {
        return Err(CompileError::Unsupported {
            node: mm.index(),
            op: "matmul",
            detail: "an operand is a view from an offset (wgraph bug: fusion materialises those)".into(),
        });
    }
    let out_shape = ir.node(mm).ty.shape.clone();
    let r = out_shape.len();
    let (m, n, k) = (out_shape[r - 2].clone(), out_shape[r - 1].clone(), a.shape[a.shape.len() - 1].clone());
    let batch_shape = out_shape[..r - 2].to_vec();
    // A product of a batch of row blocks by one matrix (`[b, s, k] @ [k, n]`,
    // every Linear) is one tall product: the batch folds into the rows, so
    // small per-sample blocks do not each get their own (mostly idle) tiles.
    let fold = folds_into_rows(a, bv, &batch_shape, &m);
    let (per_sample_batch, per_sample_m) = (batch_shape.clone(), m.clone());
    let (batch_shape, m) = if fold { (Vec::new(), &Dim::product(&batch_shape) * &m) } else { (batch_shape, m) };
    let batch = Dim::product(&batch_shape);
    // WGSL expressions of the sizes: literals, or params for symbolic dims.
    let (m_expr, n_expr, k_expr) = (b.dim(&m), b.dim(&n), b.dim(&k));
    let a_buf = b.buffer(a.base);
    let b_buf = b.buffer(bv.base);

    // Batch coordinates, then each operand's base offset (broadcast axes read 0).
    let bc = b.delinearize("batch", &batch_shape);
    let base_of = |b: &mut ExprBuilder<'_>, v: &StridedView| {
        if fold {
            return "0u".to_string();
        }
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
    let operands = Operands {
        a: a_buf,
        b: b_buf,
        a_row_stride: b.dim(&a.strides[a.shape.len() - 2]),
        a_k_stride: b.dim(&a.strides[a.shape.len() - 1]),
        b_k_stride: b.dim(&bv.strides[bv.shape.len() - 2]),
        b_col_stride: b.dim(&bv.strides[bv.shape.len() - 1]),
    };

    // The epilogue: the root's value with the matmul result in a register.
    // Folded, it receives the tall product's row and recovers the sample
    // and the row within it.
    b.register = Some((mm, "acc".into()));
    b.reads.clear();
    // The epilogue's other values (bias, residual) through textures where
    // the operands are (a register block on a CPU driver).
    if matches!(kernel, MatmulKernel::Register { .. }) {
        b.texture_side = max_texture_side;
        b.buffer_only = vec![a.base, bv.base];
    }
    let (arg_names, epi_coords): (Vec<String>, Vec<String>) = if fold {
        let per_m = b.dim(&per_sample_m);
        b.line(format!("let row = rowf % {per_m};"));
        b.line(format!("let sample = rowf / {per_m};"));
        let mut coords = b.delinearize("sample", &per_sample_batch);
        coords.extend(["row".to_string(), "col".to_string()]);
        (vec!["rowf".into(), "col".into()], coords)
    } else {
        let mut coords: Vec<String> = (0..batch_shape.len()).map(|i| format!("e{i}")).collect();
        coords.extend(["row".to_string(), "col".to_string()]);
        (coords.clone(), coords)
    };
    let result = if root == mm { "acc".to_string() } else { b.compute(root, &epi_coords) };
    let epi_body = std::mem::take(&mut b.code);
    let epi_args: String = arg_names.iter().map(|c| format!(", {c}: u32")).collect();
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
    // Both operands along the output's sides (a weight gradient): from
    // textures where they can be copied into them.
    let outer = match kernel {
        MatmulKernel::Register { tm, tn, .. } if matches!(layout, Layout::Scalar | Layout::VecN) => {
            let clash = epilogue_reads.iter().any(|&x| x == a.base || x == bv.base);
            let flat = batch_shape.is_empty() && tm % 4 == 0 && tn % 4 == 0 && !clash;
            flat.then(|| outer_product_copies(ir, plan, a, bv, max_texture_side)).flatten()
        }
        _ => None,
    };
    let layout = if outer.is_some() { Layout::VecMN } else { layout };
    let vec4_buffers: Vec<NodeId> = match layout {
        Layout::Scalar | Layout::VecMN => vec![],
        Layout::VecN => vec![bv.base],
        Layout::VecK | Layout::VecKN => vec![a.base, bv.base],
    };
    let (a_texture, b_texture) = if let Some((a_copy, b_copy)) = outer {
        (Some((a_copy.fold, Some(a_copy))), Some((b_copy.fold, Some(b_copy))))
    } else {
        let b_texture = (matches!(kernel, MatmulKernel::Register { .. }) && a.base != bv.base)
            .then(|| b_texture_read(ir, plan, bv, layout, max_texture_side))
            .flatten();
        // A from a texture when B is one: the products a CPU driver runs
        // faster so (BENCHMARKS.md, "Matmul kernel configurations").
        let a_texture = if b_texture.is_some() && matches!(layout, Layout::VecK | Layout::VecKN) {
            a_texture_read(ir, plan, a, &k, max_texture_side)
        } else {
            None
        };
        (a_texture, b_texture)
    };
    let mut textures = if b_texture.is_some() { vec![bv.base] } else { Vec::new() };
    let mut texture_copies: Vec<TextureCopy> = b_texture.iter().flat_map(|(_, copy)| copy.clone()).collect();
    let b_texture = b_texture.map(|(fold, _)| fold);
    if let Some((_, copy)) = &a_texture {
        textures.push(a.base);
        texture_copies.extend(copy.clone());
    }
    for (node, _, _, copy) in &b.texture_reads {
        textures.push(*node);
        texture_copies.extend(copy.clone());
    }
    let a_texture = a_texture.map(|(fold, _)| fold);
    let inputs = b.inputs.clone();
    let binds = bindings_typed(ir, plan, root, &inputs, &vec4_buffers, &textures)?;
    let common: Vec<(&str, String)> = vec![
        ("COMMON", shaders::COMMON.source.to_string()),
        ("BINDINGS", binds),
        ("M", m_expr),
        ("N", n_expr),
        ("K", k_expr),
        ("BATCH", batch_code),
        ("EPI_ARGS", epi_args),
        ("EPI_BODY", epi_body),
        ("EPI_RESULT", result),
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
                let block = Block { tm, tn, wx, wy, layout, subgroup_a, b_texture, a_texture };
                v.extend(register_block(block, &operands, &call_coords));
                v
            },
            Grid::Tiles { x: n.clone(), x_per: wx * tn, y: m.clone(), y_per: wy * tm, z: batch },
        ),
        MatmulKernel::Tiled { tile, tm } => (
            shaders::MATMUL_TILED,
            vec![
                ("A", operands.a.clone()),
                ("B", operands.b.clone()),
                ("SAM", operands.a_row_stride.clone()),
                ("SAK", operands.a_k_stride.clone()),
                ("SBK", operands.b_k_stride.clone()),
                ("SBN", operands.b_col_stride.clone()),
                ("EPI_CALL", epi_call),
                ("TILE", tile.to_string()),
                ("TM", tm.to_string()),
                ("THREADS", ((tile / tm) * (tile / tm)).to_string()),
                ("TILE2", (tile * tile).to_string()),
                ("TMTM", (tm * tm).to_string()),
            ],
            Grid::Tiles { x: n.clone(), x_per: tile, y: m.clone(), y_per: tile, z: batch },
        ),
    };
    let values: Vec<(&str, &str)> = common.iter().chain(&extra).map(|(k, v)| (*k, v.as_str())).collect();
    let wgsl = fill(template, &values)?;
    let fused = epilogue_nodes(ir, mm, root);
    let name = label(ir, root, &fused);
    let output_elements = Dim::product(&ir.node(root).ty.shape);
    Ok(KernelSpec {
        name,
        root,
        wgsl,
        inputs,
        textures,
        texture_copies,
        word_textures: Vec::new(),
        params: b.params.dims,
        grid,
        output_elements,
        co_outputs: Vec::new(),
        few_rows: None,
        variant: Some(kernel.to_string()),
        loop_bound: Some(k_loops(kernel, layout, k.clone())),
    })
}

/// The loops over k: the register block's one loop steps a vec4 along k,
/// a run of them shared across a subgroup, or one value; the tiled
/// kernel's steps a tile, and each step loops `tm * tm` times to load the
/// tiles and `tile` times over them, with its barriers about 3 more
/// (measured on llvmpipe: a 32x32 tile of 4x4 blocks ends at 51 per step).
fn k_loops(kernel: MatmulKernel, layout: Layout, size: Dim) -> LoopBound {
    let (step, per_step) = match (kernel, layout) {
        (MatmulKernel::Register { wx, subgroup_a: true, .. }, Layout::VecK | Layout::VecKN) => (4 * wx, 1),
        (MatmulKernel::Register { .. }, Layout::VecK | Layout::VecKN) => (4, 1),
        (MatmulKernel::Register { .. }, _) => (1, 1),
        (MatmulKernel::Tiled { tile, tm }, _) => (tile, 3 + tile + tm * tm),
    };
    LoopBound { size, step, per_step }
}

/// Whether B can be read from a texture: a 2-D weight (uploaded once, so
/// the texture copy is free at run time) read whole, row-major for `VecKN`
/// or transposed in place for `VecK`, its rows a whole number of texels and
/// both texture sides within the device's limit.
/// Its rows per texture row (`weight_fold`) when it can: `VecKN` only
/// unfolded (its texels run along n, across the folded rows).
fn texture_weight(ir: &Ir, plan: &FusionPlan, b: &StridedView, layout: Layout, max_side: u32) -> Option<u32> {
    let node = ir.node(b.base);
    let weight = plan.is_fixed(ir, b.base) && node.ty.dtype == DType::F32;
    let (true, [rows, cols]) = (weight, node.ty.shape.as_slice()) else {
        return None;
    };
    let fold = weight_fold(rows.as_static()?, cols.as_static()?, max_side)?;
    let (rows, cols, one) = (rows.clone(), cols.clone(), Dim::new(1));
    let whole = match layout {
        Layout::VecKN => fold == 1 && b.shape == [rows, cols.clone()] && b.strides == [cols, one],
        Layout::VecK => b.shape == [cols.clone(), rows] && b.strides == [one, cols],
        Layout::Scalar | Layout::VecN | Layout::VecMN => false,
    };
    whole.then_some(fold)
}

/// How B can be read from a texture, as `(fold, copy)`: a weight
/// uploaded as one (`texture_weight`, no copy), or a value whose buffer
/// holds exactly B's matrix, copied into one before each dispatch (a
/// trained weight, an activation): transposed in place for `VecK` (the
/// buffer's rows are B's columns), row-major for `VecKN` with texture rows
/// that start at every fourth row (a k step's four rows share one).
fn b_texture_read(
    ir: &Ir,
    plan: &FusionPlan,
    b: &StridedView,
    layout: Layout,
    max_side: u32,
) -> Option<(u32, Option<TextureCopy>)> {
    if let Some(fold) = texture_weight(ir, plan, b, layout, max_side) {
        return Some((fold, None));
    }
    let node = ir.node(b.base);
    if plan.is_fixed(ir, b.base) || node.ty.dtype != DType::F32 {
        return None;
    }
    let [k, n] = b.shape.as_slice() else { return None };
    let whole = Dim::product(&node.ty.shape) == k * n;
    let one = Dim::new(1);
    let copy = match layout {
        Layout::VecK if whole && b.strides == [one.clone(), k.clone()] => {
            TextureCopy::new(b.base, n.clone(), k.as_static()?, max_side)?
        }
        Layout::VecKN if whole && b.strides == [n.clone(), one] => {
            let copy = TextureCopy::new(b.base, k.clone(), n.as_static()?, max_side)?;
            if !copy.fold.is_multiple_of(4) && copy.fold != 1 {
                return None;
            }
            copy
        }
        _ => return None,
    };
    Some((copy.fold, Some(copy)))
}

/// The texture copies of A and B for `Layout::VecMN`: a 2-D product whose
/// A is a transposed view of a buffer holding its k rows of m values and
/// whose B is a buffer of k rows of n values, both changing values (a
/// fixed weight may be uploaded as a texture of another layout), m and n
/// static multiples of 4.
fn outer_product_copies(
    ir: &Ir,
    plan: &FusionPlan,
    a: &StridedView,
    b: &StridedView,
    max_side: u32,
) -> Option<(TextureCopy, TextureCopy)> {
    let ([m, ka], [kb, n]) = (a.shape.as_slice(), b.shape.as_slice()) else { return None };
    let one = Dim::new(1);
    let copyable = |v: &StridedView, rows: usize| {
        let node = ir.node(v.base);
        !plan.is_fixed(ir, v.base)
            && node.ty.dtype == DType::F32
            && Dim::product(&node.ty.shape) == ka * &Dim::new(rows)
            && rows >= 4
            && rows.is_multiple_of(4)
    };
    let (m_len, n_len) = (m.as_static()?, n.as_static()?);
    let fits = ka == kb
        && a.base != b.base
        && a.strides == [one.clone(), m.clone()]
        && b.strides == [n.clone(), one]
        && copyable(a, m_len)
        && copyable(b, n_len);
    if !fits {
        return None;
    }
    Some((
        TextureCopy::new(a.base, ka.clone(), m_len, max_side)?,
        TextureCopy::new(b.base, kb.clone(), n_len, max_side)?,
    ))
}

/// How A (contiguous along k) can be read from a texture, as
/// `(fold, copy)`: a 2-D weight uploaded as one (one row per texture row,
/// no copy), or an activation whose buffer holds exactly A's rows,
/// row-major, copied into one before each dispatch.
fn a_texture_read(
    ir: &Ir,
    plan: &FusionPlan,
    a: &StridedView,
    k: &Dim,
    max_side: u32,
) -> Option<(u32, Option<TextureCopy>)> {
    if texture_weight(ir, plan, a, Layout::VecKN, max_side).is_some() {
        return Some((1, None));
    }
    let node = ir.node(a.base);
    // A weight that does not fit a texture whole stays a buffer.
    let activation = !plan.is_fixed(ir, a.base) && node.ty.dtype == DType::F32;
    let cols = k.as_static()?;
    // The view is the whole buffer read in order (a reshape of it at most).
    let dense = a.is_contiguous() && Dim::product(&a.shape) == Dim::product(&node.ty.shape);
    if !(activation && dense) {
        return None;
    }
    let rows = Dim::product(&a.shape[..a.shape.len() - 1]);
    let copy = TextureCopy::new(a.base, rows, cols, max_side)?;
    Some((copy.fold, Some(copy)))
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

/// The nodes between a fused matmul and its epilogue root, matmul first.
pub(super) fn epilogue_nodes(ir: &Ir, mm: NodeId, root: NodeId) -> Vec<NodeId> {
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

/// Whether `a @ b` can run as one tall product: `b` has no batch of its own
/// (every batch axis broadcast) and `a`'s batch axes continue its row
/// stride, so row `i` of sample `s` is row `s * m + i` of one matrix.
fn folds_into_rows(a: &StridedView, b: &StridedView, batch: &[Dim], m: &Dim) -> bool {
    if batch.is_empty() {
        return false;
    }
    let one = Dim::new(1);
    let b_batch = b.shape.len() - 2;
    if b.shape[..b_batch].iter().any(|d| *d != one) {
        return false;
    }
    let ar = a.shape.len();
    // A's batch axes must be all of the output's (no broadcast of A).
    if ar - 2 != batch.len() || a.shape[..ar - 2] != *batch {
        return false;
    }
    let mut expected = &a.strides[ar - 2] * m;
    for i in (0..ar - 2).rev() {
        if a.shape[i] != one && a.strides[i] != expected {
            return false;
        }
        expected = &expected * &a.shape[i];
    }
    true
}
