//! The fused attention kernel (shaders/attention.wgsl): q, k, v and the
//! mask read in place through strided views, the head dims and the
//! [`rows_per_invocation`] query rows unrolled here (as vec4 steps when the
//! layout allows).

use super::attention_split::{split_keys_wgsl, RowsCode, SplitSource, SPLIT_KEYS, SPLIT_KEYS_MAX_ROWS};
use super::expr::{literal, ExprBuilder};
use super::kernels::{bindings_typed, finish, FewRows, Grid, KernelSpec, TextureCopy};
use super::shaders::{self, fill};
use crate::compile::error::CompileError;
use crate::compile::fuse::FusionPlan;
use crate::compile::view::{view_or_buffer, StridedView};
use crate::compile::KernelTier;
use crate::graph::{DType, Dim, Ir, NodeId};

/// The most query rows one invocation computes: each key and value row it
/// loads serves them all, so more rows run faster up to 16 and no faster
/// beyond (BENCHMARKS.md, "Fused attention").
pub const MAX_ROWS_PER_INVOCATION: usize = 16;

/// vec4 values the rows' queries and accumulators may take together. Past
/// the registers llvmpipe spills them to the stack, which still beats
/// fewer rows: at head dim 64 (Whisper-tiny dims at 1500 positions) 16 rows
/// run faster than 8 or 4 (BENCHMARKS.md, "Fused attention").
const REGISTER_BUDGET: usize = 512;

/// Query rows per invocation for head dims `d` and `dv`: as many as the
/// register budget holds, at most [`MAX_ROWS_PER_INVOCATION`].
pub fn rows_per_invocation(d: usize, dv: usize) -> usize {
    (REGISTER_BUDGET / (d.div_ceil(4) + dv.div_ceil(4)).max(1)).clamp(1, MAX_ROWS_PER_INVOCATION)
}

/// What a fused attention computes besides its operands (the scale on
/// the scores and the result's layout: `Op::Attention`'s fields), and
/// whether it may read keys and values from textures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Layout {
    /// The factor on the scores.
    pub scale: Option<f64>,
    /// The result is `[.., q_len, heads, dv]`.
    pub rows_first: bool,
    /// Largest texture side for keys and values copied into textures (CPU
    /// drivers, where texel reads are vectorised; 0: buffers).
    pub max_texture_side: u32,
}

/// The attention node `node` (`scale` on the scores), `wg` invocations per
/// workgroup.
pub fn attention(
    ir: &Ir,
    plan: &FusionPlan,
    node: NodeId,
    layout: Layout,
    wg: u32,
    tier: KernelTier,
    subgroups: bool,
) -> Result<KernelSpec, CompileError> {
    let Layout { scale, rows_first, max_texture_side } = layout;
    let mut b = ExprBuilder::new(ir, plan);
    let operands = ir.operands(node);
    let views: Vec<StridedView> = operands.iter().map(|&o| view_or_buffer(ir, o, &plan.materialised)).collect();
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
    // Never more rows than a static query length has.
    let rows = tier.attention_rows(rows_per_invocation(d, dv));
    let tm = match q.shape[r - 2].as_static() {
        Some(m) => rows.min(m.max(1)),
        None => rows,
    };
    // vec4 along the head dim: contiguous there, every offset a multiple of 4.
    let vec = d % 4 == 0
        && dv % 4 == 0
        && [q, k, v].iter().all(|x| {
            x.strides[r - 1] == Dim::new(1)
                && x.strides[..r - 1].iter().all(|s| s.divisible_by(4))
                && x.offset.divisible_by(4)
        });
    // Key and value rows shared across the subgroup: the device's subgroups
    // are the workgroup (`subgroups`), and the rows are read as vec4.
    let share = subgroups && vec;
    let (qb, kb, vb) = (b.buffer(q.base), b.buffer(k.base), b.buffer(v.base));
    // Shared key and value rows read from textures of their whole buffers
    // (not a buffer the queries are read from: a binding is one or the other).
    let texture_side = if share { max_texture_side } else { 0 };
    let texture = |x: &StridedView| match x.base != q.base && whole_buffer_read(ir, plan, x) {
        true => row_texture(ir, plan, x.base, texture_side),
        false => None,
    };
    let (k_tex, v_tex) = (texture(k), texture(v));

    let mask_view = views.get(3);
    let ops = RowOperands {
        q,
        k,
        v,
        mask: mask_view,
        names: [qb, kb, vb],
        k_tex: k_tex.clone(),
        v_tex: v_tex.clone(),
        vec,
        d,
        dv,
        scale,
        rows_first,
        batch_shape: batch_shape.clone(),
        wg,
    };
    let main = rows_code(&mut b, &ops, tm, share);
    let m = &q.shape[r - 2];
    let batch = Dim::product(&batch_shape);
    // One query row (decoding) or a few: the form whose lanes split the
    // keys, always when the length is known to be that short, else chosen
    // per run (`KernelSpec::few_rows`).
    let split = match m.as_static() {
        Some(rows) if rows <= SPLIT_KEYS_MAX_ROWS => SplitForm::Only,
        Some(_) => SplitForm::Never,
        None => SplitForm::FewRows,
    };
    let split_code = (split != SplitForm::Never).then(|| rows_code(&mut b, &ops, 1, false));
    // Enough invocations for `batch * ceil(m / tm)` blocks (Dim has no
    // division; the kernel returns past the last block).
    let items = &batch * &(m + &Dim::new(tm - 1));
    let copies: Vec<TextureCopy> = [&k_tex, &v_tex].into_iter().flatten().cloned().collect();
    let mut textures: Vec<NodeId> = copies.iter().map(|c| c.node).collect();
    textures.dedup();
    let vec4_buffers: Vec<NodeId> =
        if vec { [q.base, k.base, v.base].into_iter().filter(|n| !textures.contains(n)).collect() } else { Vec::new() };
    let place = if share {
        // Whole workgroups past the last batch entry return together; the
        // lanes of a live one all stay for the broadcasts.
        format!(
            "    let groups = (blocks + WG - 1u) / WG;\n    let w = flat_workgroup(wid, nwg);\n    \
             if (w >= {batch} * groups) {{\n        return;\n    }}\n    let batch = w / groups;\n    \
             let block = (w % groups) * WG + lid;\n    let stores = block < blocks;\n    \
             let first = min(block, blocks - 1u) * TM;\n",
            batch = b.dim(&batch)
        )
    } else {
        format!(
            "    let t = flat_workgroup(wid, nwg) * WG + lid;\n    if (t >= {batch} * blocks) {{\n        \
             return;\n    }}\n    let stores = true;\n    let first = (t % blocks) * TM;\n    let batch = t / blocks;\n",
            batch = b.dim(&batch)
        )
    };
    let (m_expr, n_expr, batch_expr) = (b.dim(m), b.dim(&k.shape[r - 2]), b.dim(&batch));
    let binds = bindings_typed(ir, plan, node, &b.inputs, &vec4_buffers, &textures)?;
    let split_kernel = match split_code {
        Some(code) => {
            let source = SplitSource { binds: &binds, wg, m: &m_expr, n: &n_expr, batch: &batch_expr, dv, vec };
            Some(split_keys_wgsl(&source, &code, &out_row(&mut b, &ops))?)
        }
        None => None,
    };
    let values = [
        ("COMMON", shaders::COMMON.source.to_string()),
        ("LANE_ARG", if share { ", @builtin(subgroup_invocation_id) lane: u32" } else { "" }.to_string()),
        ("PLACE", place),
        ("BINDINGS", binds),
        ("WG", wg.to_string()),
        ("TM", tm.to_string()),
        ("M", m_expr),
        ("N", n_expr),
        ("BASES", main.bases),
        ("INIT", main.init),
        ("BODY", main.body),
        ("STORE", main.store),
    ];
    let refs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wgsl = fill(shaders::ATTENTION, &refs)?;
    let name = format!("%{}:attention", node.index());
    let grid = if share {
        // Exactly ceil(m / (tm wg)) workgroups per batch entry.
        Grid::Blocks { items: m.clone(), per_group: wg * tm as u32, times: batch.clone() }
    } else {
        Grid::Linear { items, per_group: wg * tm as u32 }
    };
    // One workgroup per query row of each batch entry.
    let split_grid = Grid::Linear { items: &batch * m, per_group: 1 };
    let mut spec = match (split, split_kernel) {
        (SplitForm::Only, Some(source)) => {
            let mut spec = finish(b, node, name, source, split_grid);
            spec.variant = Some(SPLIT_KEYS.to_string());
            spec
        }
        (_, few) => {
            let mut spec = finish(b, node, name, wgsl, grid);
            spec.few_rows = few.map(|source| FewRows {
                rows: m.clone(),
                max_rows: SPLIT_KEYS_MAX_ROWS,
                wgsl: source,
                grid: split_grid,
            });
            spec
        }
    };
    spec.textures = textures;
    spec.texture_copies = copies.into_iter().fold(Vec::new(), |mut all, c| {
        if !all.iter().any(|a: &TextureCopy| a.node == c.node) {
            all.push(c);
        }
        all
    });
    Ok(spec)
}

/// Where the form whose lanes split the keys is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SplitForm {
    /// Not at all: the query is known to be longer.
    Never,
    /// As the kernel: the query is known to be that short.
    Only,
    /// As the few-rows variant, for runs whose query is that short.
    FewRows,
}

/// What the code of a kernel's query rows reads: the operands' views,
/// their binding names (q, k, v) and the kernel's fixed choices.
struct RowOperands<'v> {
    q: &'v StridedView,
    k: &'v StridedView,
    v: &'v StridedView,
    mask: Option<&'v StridedView>,
    names: [String; 3],
    k_tex: Option<TextureCopy>,
    v_tex: Option<TextureCopy>,
    vec: bool,
    d: usize,
    dv: usize,
    scale: Option<f64>,
    rows_first: bool,
    batch_shape: Vec<Dim>,
    wg: u32,
}

/// The first value of output row `row{t}` (a WGSL expression with `{t}`
/// to replace): `[.., m, dv]` rows follow each other; with `rows_first`
/// the last batch axis (heads) is inside the row.
fn out_row(b: &mut ExprBuilder<'_>, o: &RowOperands<'_>) -> String {
    let dv = o.dv;
    if o.rows_first {
        let heads = b.dim(&o.batch_shape[o.batch_shape.len() - 1]);
        format!("(((batch / {heads}) * m_len + row{{t}}) * {heads} + batch % {heads}) * {dv}u")
    } else {
        format!("((batch * m_len) + row{{t}}) * {dv}u")
    }
}

fn rows_code(b: &mut ExprBuilder<'_>, o: &RowOperands<'_>, tm: usize, share: bool) -> RowsCode {
    let (q, k, v) = (o.q, o.k, o.v);
    let [qb, kb, vb] = &o.names;
    let (vec, d, dv, wg) = (o.vec, o.d, o.dv, o.wg);
    let r = q.shape.len();
    // Base offsets of this batch entry in each operand (the mask broadcast),
    // and each row's start, clamped to the last row.
    let bc = b.delinearize("batch", &o.batch_shape);
    let q_base = view_base(b, &bc, q, &q.strides);
    let (k_base, v_base) = (view_base(b, &bc, k, &k.strides), view_base(b, &bc, v, &v.strides));
    let (q_row, q_col) = (b.dim(&q.strides[r - 2]), b.dim(&q.strides[r - 1]));
    let (k_row, k_col) = (b.dim(&k.strides[r - 2]), b.dim(&k.strides[r - 1]));
    let (v_row, v_col) = (b.dim(&v.strides[r - 2]), b.dim(&v.strides[r - 1]));
    b.line(format!("let q_base = {q_base};"));
    b.line(format!("let k_base = {k_base};"));
    b.line(format!("let v_base = {v_base};"));
    for t in 0..tm {
        b.line(format!("let row{t} = min(first + {t}u, m_len - 1u);"));
    }
    // A padding mask is the same for every query row: loaded once per key.
    let mask = o.mask.map(|m| {
        let strides = broadcast_strides(m, r);
        let base = view_base(b, &bc, m, &strides);
        let (row, col) = (b.dim(&strides[r - 2]), b.dim(&strides[r - 1]));
        let per_row = strides[r - 2] != Dim::new(0);
        b.line(format!("let mask_base = {base};"));
        if per_row {
            for t in 0..tm {
                b.line(format!("let mask_at{t} = mask_base + row{t} * {row};"));
            }
        }
        (b.buffer(m.base), col, per_row)
    });
    let bases = std::mem::take(&mut b.code);

    let (ty, steps, dv_steps) = if vec { ("vec4<f32>", d / 4, dv / 4) } else { ("f32", d, dv) };
    // Step `c` (an element, or a vec4; a WGSL u32 expression) of the row
    // starting at `at`.
    let at = |buf: &str, at: &str, col: &str, c: &str| {
        if vec {
            format!("{buf}[({at}) / 4u + {c}]")
        } else if col == "1u" {
            format!("{buf}[{at} + {c}]")
        } else {
            format!("{buf}[{at} + ({c}) * {col}]")
        }
    };
    let mut init = String::new();
    let mut body = format!("        let k_at = k_base + j * {k_row};\n");
    match &o.k_tex {
        Some(t) => {
            body.push_str(&texel_origin(t, "k"));
            body.push_str(&row_loads(share, wg, "k", steps, |c| {
                format!("textureLoad({kb}, k_t + vec2<u32>({c}, 0u))")
            }));
        }
        None => body.push_str(&row_loads(share, wg, "k", steps, |c| at(kb, "k_at", &k_col, c))),
    }
    if let Some((buf, col, false)) = &mask {
        body.push_str(&format!("        let keep = {buf}[mask_base + j * {col}] != 0u;\n"));
    }
    body.push_str(&format!("        let v_at = v_base + j * {v_row};\n"));
    match &o.v_tex {
        Some(t) => {
            body.push_str(&texel_origin(t, "v"));
            let load = |c: &str| format!("textureLoad({vb}, v_t + vec2<u32>({c}, 0u))");
            body.push_str(&row_loads(share, wg, "v", dv_steps, load));
        }
        None => body.push_str(&row_loads(share, wg, "v", dv_steps, |c| at(vb, "v_at", &v_col, c))),
    }
    let mut store = String::new();
    let out_row = out_row(b, o);
    for t in 0..tm {
        init.push_str(&format!("    let q_at{t} = q_base + row{t} * {q_row};\n"));
        for c in 0..steps {
            init.push_str(&format!("    let q{t}_{c} = {};\n", at(qb, &format!("q_at{t}"), &q_col, &format!("{c}u"))));
        }
        init.push_str(&format!("    var max{t} = LOWEST;\n    var total{t} = 0.0;\n"));
        for c in 0..dv_steps {
            init.push_str(&format!("    var a{t}_{c} = {ty}(0.0);\n"));
        }
        // The score, the online-softmax update and the weighted value row;
        // rows past the end skip them (uniform when the query length is
        // below the row count, as in decoding, where every row but one is).
        if t > 0 {
            body.push_str(&format!("        if (live{t}) {{\n"));
            init.push_str(&format!("    let live{t} = first + {t}u < m_len;\n"));
        }
        body.push_str(&format!("        var d{t} = q{t}_0 * k0;\n"));
        for c in 1..steps {
            body.push_str(&format!("        d{t} = fma(q{t}_{c}, k{c}, d{t});\n"));
        }
        let sum = if vec { format!("d{t}.x + d{t}.y + d{t}.z + d{t}.w") } else { format!("d{t}") };
        let scaled = match o.scale {
            Some(s) => format!("({sum}) * {}", literal(s, DType::F32)),
            None => sum,
        };
        body.push_str(&format!("        var s{t} = {scaled};\n"));
        match &mask {
            Some((buf, col, true)) => {
                body.push_str(&format!("        s{t} = select(LOWEST, s{t}, {buf}[mask_at{t} + j * {col}] != 0u);\n"));
            }
            Some(_) => body.push_str(&format!("        s{t} = select(LOWEST, s{t}, keep);\n")),
            None => {}
        }
        body.push_str(&format!("        if (s{t} > max{t}) {{\n            let c = exp(max{t} - s{t});\n"));
        body.push_str(&format!("            total{t} = total{t} * c;\n"));
        for c in 0..dv_steps {
            body.push_str(&format!("            a{t}_{c} = a{t}_{c} * c;\n"));
        }
        body.push_str(&format!("            max{t} = s{t};\n        }}\n"));
        body.push_str(&format!("        let p{t} = exp(s{t} - max{t});\n        total{t} = total{t} + p{t};\n"));
        for c in 0..dv_steps {
            body.push_str(&format!("        a{t}_{c} = fma({ty}(p{t}), v{c}, a{t}_{c});\n"));
        }
        if t > 0 {
            body.push_str("        }\n");
        }
        store.push_str(&format!("    if (stores && first + {t}u < m_len) {{\n        let inv = 1.0 / total{t};\n"));
        store.push_str(&format!("        let o = {};\n", out_row.replace("{t}", &t.to_string())));
        for c in 0..dv_steps {
            if vec {
                for (lane, x) in ["x", "y", "z", "w"].iter().enumerate() {
                    store.push_str(&format!("        out[o + {}u] = a{t}_{c}.{x} * inv;\n", 4 * c + lane));
                }
            } else {
                store.push_str(&format!("        out[o + {c}u] = a{t}_{c} * inv;\n"));
            }
        }
        store.push_str("    }\n");
    }
    RowsCode { bases, init, body, store }
}

/// Whether `x` reads its buffer from the start and not a slice of a
/// weight's buffer it is bound to: a texture copy of the buffer then
/// copies what the kernel reads, not a whole shared cache (every
/// conversation slot's region, read in place by one slot's keys).
fn whole_buffer_read(ir: &Ir, plan: &FusionPlan, x: &StridedView) -> bool {
    let whole_weight =
        plan.weight_prefixes.get(&x.base).is_some_and(|&w| ir.node(w).ty.shape == ir.node(x.base).ty.shape);
    x.at_origin() && !whole_weight
}

/// A key or value buffer as a texture of its rows (its last axis, a
/// whole number of texels) copied before the dispatch, when it is f32,
/// fits, and is no fixed weight (those could be uploaded as textures, but
/// attention reads activations and caches).
fn row_texture(ir: &Ir, plan: &FusionPlan, node: NodeId, max_side: u32) -> Option<TextureCopy> {
    let n = ir.node(node);
    let activation = !plan.is_fixed(ir, node) && n.ty.dtype == DType::F32;
    let (last, rest) = n.ty.shape.split_last()?;
    if max_side == 0 || !activation {
        return None;
    }
    TextureCopy::new(node, Dim::product(rest), last.as_static()?, max_side)
}

/// Where the row at `{name}_at` (its first value's offset in the buffer,
/// a multiple of 4) starts in its texture `t`: the line defining
/// `{name}_t`, the texel of that first value.
fn texel_origin(t: &TextureCopy, name: &str) -> String {
    let (cols, fold, texels) = (t.cols, t.fold, t.cols / 4);
    format!(
        "        let {name}_row = {name}_at / {cols}u;\n        let {name}_t = vec2<u32>(({name}_row % {fold}u) * \
         {texels}u + ({name}_at % {cols}u) / 4u, {name}_row / {fold}u);\n"
    )
}

/// The first element of batch entry `bc` in `view` read with `strides`
/// (its own, or broadcast to the batch's rank): a WGSL u32 expression.
fn view_base(b: &mut ExprBuilder<'_>, bc: &[String], view: &StridedView, strides: &[Dim]) -> String {
    let within = b.linearize(bc, &strides[..strides.len() - 2]);
    if view.at_origin() {
        return within;
    }
    // From the params: kernels reading different slots' regions of one
    // cache are one source.
    let offset = b.runtime_dim(&view.offset);
    format!("{offset} + {within}")
}

/// The mask view's strides for a rank-`r` read: missing leading axes and
/// size-1 axes broadcast (stride 0).
fn broadcast_strides(m: &StridedView, r: usize) -> Vec<Dim> {
    let pad = r - m.shape.len();
    (0..r)
        .map(|a| if a < pad || m.shape[a - pad] == Dim::new(1) { Dim::new(0) } else { m.strides[a - pad].clone() })
        .collect()
}

/// The `steps` loads of one key or value row, named `{name}0..`: each
/// straight from `load(step)`, or with `share`, lane `l` loading steps `l`,
/// `l + wg`, ... and `subgroupBroadcast` handing step `c` from lane `c % wg`
/// to every lane (past the row's end a lane reloads its last step).
fn row_loads(share: bool, wg: u32, name: &str, steps: usize, load: impl Fn(&str) -> String) -> String {
    let wg = wg as usize;
    if !share {
        return (0..steps).map(|c| format!("        let {name}{c} = {};\n", load(&format!("{c}u")))).collect();
    }
    let mut code = String::new();
    for part in 0..steps.div_ceil(wg) {
        let step = format!("min(lane + {}u, {}u)", part * wg, steps - 1);
        code.push_str(&format!("        let {name}_share{part} = {};\n", load(&step)));
    }
    for c in 0..steps {
        code.push_str(&format!("        let {name}{c} = subgroupBroadcast({name}_share{}, {}u);\n", c / wg, c % wg));
    }
    code
}
