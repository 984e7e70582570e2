//! The register-blocked matmul's unrolled body: per-row and per-column
//! offsets, accumulators, the k loop (with A shared across a subgroup, B
//! from a buffer or a texture) and the stores through the epilogue.

/// How the register-blocked matmul reads its operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Layout {
    /// Scalar loads, any strides.
    Scalar,
    /// B contiguous along n: B read as vec4 of 4 columns, A scalar.
    VecN,
    /// B contiguous along n and A along k: A read as vec4 of 4 k-steps,
    /// B as vec4 of 4 columns per k-step.
    VecKN,
    /// A and B contiguous along k (a transposed Linear weight): both read
    /// as vec4 of 4 k-steps, accumulated in one scalar per output in k
    /// order. (A vec4 accumulator per output, summed at the end, makes
    /// four times the values to keep: on lavapipe they spill to the stack,
    /// and MiniLM's products run slower; BENCHMARKS.md, "Matmul kernel
    /// configurations (examples/matmul_tune.rs)".)
    VecK,
    /// A contiguous along m and B along n, both read from textures copied
    /// from buffers holding k rows (a weight gradient, `xᵀ @ dy`): per k
    /// step one texel of A gives four rows and one of B four columns, an
    /// outer product into vec4 accumulators. An invocation's rows are
    /// groups of four, interleaved across the workgroup like the columns.
    VecMN,
}

/// How the generated code reaches A and B: the binding names and the WGSL
/// expressions of their strides (`a_row_stride` is A's stride along m, and
/// so on), written straight into the code.
#[derive(Debug, Clone)]
pub(super) struct Operands {
    pub(super) a: String,
    pub(super) b: String,
    pub(super) a_row_stride: String,
    pub(super) a_k_stride: String,
    pub(super) b_k_stride: String,
    pub(super) b_col_stride: String,
}

/// What one register-blocked kernel is generated for.
#[derive(Debug, Clone, Copy)]
pub(super) struct Block {
    pub(super) tm: u32,
    pub(super) tn: u32,
    pub(super) wx: u32,
    pub(super) wy: u32,
    pub(super) layout: Layout,
    /// A shared across the subgroup (see `subgroup_loop`).
    pub(super) subgroup_a: bool,
    /// B read from a texture (see `b_texture_read`): `Some(fold)`, B's
    /// rows (the columns of a transposed weight) `fold` to a texture row
    /// (`VecKN`: 1 or a multiple of 4).
    pub(super) b_texture: Option<u32>,
    /// A read from a texture (vec4 layouts only): `Some(fold)`, A's rows
    /// `fold` to a texture row (see `TextureCopy`); `a_row0` is the first
    /// row of this batch entry's A.
    pub(super) a_texture: Option<u32>,
}

/// The unrolled body of the register-blocked matmul: per-row and
/// per-column offsets, accumulators, the k loop with loads and FMAs, and
/// guarded stores through the epilogue. Offsets of vec4 operands are in
/// vec4 units.
pub(super) fn register_block(block: Block, ops: &Operands, call_coords: &[String]) -> Vec<(&'static str, String)> {
    let Block { tm, tn, wx, wy, layout, subgroup_a, b_texture, a_texture } = block;
    let Operands { a, b, a_row_stride, a_k_stride, b_k_stride, b_col_stride } = ops;
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
    if a_texture.is_some() {
        offsets.push_str("    let a_row0 = a_base / K;\n");
    }
    for r in (0..tm).filter(|_| layout != Layout::VecMN) {
        offsets.push_str(&format!("    let row{r} = row_start + {}u;\n", r * wy));
        let ra = format!("a_base + min(row{r}, M - 1u) * {a_row_stride}");
        let texture_row = format!("a_row0 + min(row{r}, M - 1u)");
        offsets.push_str(&match (layout, a_texture) {
            (Layout::VecK | Layout::VecKN, Some(1)) => format!("    let ra{r} = vec2<u32>(0u, {texture_row});\n"),
            (Layout::VecK | Layout::VecKN, Some(fold)) => format!(
                "    let ar{r} = {texture_row};\n    let ra{r} = vec2<u32>((ar{r} % {fold}u) * (K / 4u), ar{r} / {fold}u);\n"
            ),
            (Layout::VecK | Layout::VecKN, None) => format!("    let ra{r} = ({ra}) / 4u;\n"),
            _ => format!("    let ra{r} = {ra};\n"),
        });
    }
    let loop_head = match layout {
        Layout::VecK | Layout::VecKN => "    for (var k = 0u; k < K / 4u; k++) {\n".to_string(),
        Layout::VecMN => "    for (var k = 0u; k < K; k++) {\n".to_string(),
        Layout::Scalar | Layout::VecN => format!(
            "    for (var k = 0u; k < K; k++) {{\n        let ka = k * {a_k_stride};\n        let kb = k * {b_k_stride};\n"
        ),
    };
    match layout {
        Layout::Scalar => {
            for c in 0..tn {
                offsets.push_str(&format!("    let col{c} = col_start + {}u;\n", c * wx));
                offsets.push_str(&format!("    let cb{c} = b_base + min(col{c}, N - 1u) * {b_col_stride};\n"));
            }
            (0..tm).for_each(|r| a_loads.push_str(&format!("        let a{r} = {a}[ra{r} + ka];\n")));
            (0..tn).for_each(|c| body.push_str(&format!("        let b{c} = {b}[cb{c} + kb];\n")));
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
            (0..tm).for_each(|r| a_loads.push_str(&format!("        let a{r} = {a}[ra{r} + ka];\n")));
            (0..groups).for_each(|g| body.push_str(&format!("        let b{g} = {b}[cb{g} + kb / 4u];\n")));
            for r in 0..tm {
                for g in 0..groups {
                    body.push_str(&format!("        acc{r}_{g} = fma(vec4<f32>(a{r}), b{g}, acc{r}_{g});\n"));
                }
            }
            group_accumulators(tm, groups, &store, &mut decl, &mut stores);
        }
        Layout::VecKN => {
            let groups = column_groups(tn, wx, &mut offsets);
            (0..tm).for_each(|r| a_loads.push_str(&a_load(a, r, "k", a_texture)));
            if let Some(fold @ 2..) = b_texture {
                // `fold` rows of B to a texture row, a multiple of 4: the k
                // step's four rows lie side by side in one texture row.
                body.push_str(&format!(
                    "        let bx = ((k * 4u) % {fold}u) * (N / 4u);\n        let by = (k * 4u) / {fold}u;\n"
                ));
            }
            for (kk, lane) in ["x", "y", "z", "w"].iter().enumerate() {
                if let Some(fold) = b_texture {
                    for g in 0..groups {
                        body.push_str(&if fold == 1 {
                            format!("        let b{g}_{kk} = textureLoad({b}, vec2<u32>(cb{g}, k * 4u + {kk}u));\n")
                        } else {
                            format!(
                                "        let b{g}_{kk} = textureLoad({b}, vec2<u32>(bx + {kk}u * (N / 4u) + cb{g}, by));\n"
                            )
                        });
                    }
                } else {
                    body.push_str(&format!("        let kb{kk} = (k * 4u + {kk}u) * ({b_k_stride} / 4u);\n"));
                    for g in 0..groups {
                        body.push_str(&format!("        let b{g}_{kk} = {b}[cb{g} + kb{kk}];\n"));
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
        Layout::VecMN => {
            let (Some(a_fold), Some(b_fold)) = (a_texture, b_texture) else {
                unreachable!("VecMN reads both operands from textures")
            };
            let groups = column_groups(tn, wx, &mut offsets);
            let row_groups = tm / 4;
            for q in 0..row_groups {
                offsets.push_str(&format!(
                    "    let rg{q} = min((wid.y * {wy}u * {row_groups}u + lid.y + {}u) * 4u, M - 4u) / 4u;\n",
                    q * wy
                ));
            }
            // The texel of A's (B's) k-th stored row: `fold` rows to a texture row.
            let texel = |fold: u32, width: &str| {
                if fold == 1 {
                    "vec2<u32>(0u, k)".to_string()
                } else {
                    format!("vec2<u32>((k % {fold}u) * ({width} / 4u), k / {fold}u)")
                }
            };
            a_loads.push_str(&format!("        let at = {};\n", texel(a_fold, "M")));
            (0..row_groups).for_each(|q| {
                a_loads.push_str(&format!("        let a{q} = textureLoad({a}, at + vec2<u32>(rg{q}, 0u));\n"))
            });
            body.push_str(&format!("        let bt = {};\n", texel(b_fold, "N")));
            (0..groups).for_each(|g| {
                body.push_str(&format!("        let b{g} = textureLoad({b}, bt + vec2<u32>(cb{g}, 0u));\n"))
            });
            for q in 0..row_groups {
                for (l, lane) in ["x", "y", "z", "w"].iter().enumerate() {
                    let r = q * 4 + l as u32;
                    for g in 0..groups {
                        body.push_str(&format!(
                            "        acc{r}_{g} = fma(vec4<f32>(a{q}.{lane}), b{g}, acc{r}_{g});\n"
                        ));
                    }
                }
            }
            group_accumulators(tm, groups, &store, &mut decl, &mut stores);
        }
        Layout::VecK => {
            for c in 0..tn {
                offsets.push_str(&format!("    let col{c} = col_start + {}u;\n", c * wx));
                offsets.push_str(&match b_texture {
                    Some(1) => format!("    let cb{c} = vec2<u32>(0u, min(col{c}, N - 1u));\n"),
                    Some(fold) => format!(
                        "    let bn{c} = min(col{c}, N - 1u);\n    let cb{c} = vec2<u32>((bn{c} % {fold}u) * (K / 4u), bn{c} / {fold}u);\n"
                    ),
                    None => {
                        format!("    let cb{c} = (b_base + min(col{c}, N - 1u) * {b_col_stride}) / 4u;\n")
                    }
                });
            }
            (0..tm).for_each(|r| a_loads.push_str(&a_load(a, r, "k", a_texture)));
            for c in 0..tn {
                body.push_str(&if b_texture.is_some() {
                    format!("        let b{c} = textureLoad({b}, cb{c} + vec2<u32>(k, 0u));\n")
                } else {
                    format!("        let b{c} = {b}[cb{c} + k];\n")
                });
            }
            for r in 0..tm {
                for c in 0..tn {
                    decl.push_str(&format!("    var acc{r}_{c} = 0.0;\n"));
                    let chain = ["x", "y", "z", "w"]
                        .iter()
                        .fold(format!("acc{r}_{c}"), |acc, l| format!("fma(a{r}.{l}, b{c}.{l}, {acc})"));
                    body.push_str(&format!("        acc{r}_{c} = {chain};\n"));
                    stores.push_str(&store(&format!("acc{r}_{c}")));
                }
            }
        }
    }
    let lp = if subgroup_a {
        subgroup_loop(tm, wx, a, &body, a_texture)
    } else {
        format!("{loop_head}{a_loads}{body}    }}\n")
    };
    let count = tm * tn;
    let col = match layout {
        Layout::Scalar | Layout::VecK => format!("col_start + c * {wx}u"),
        Layout::VecN | Layout::VecKN | Layout::VecMN => {
            format!("(wid.x * {wx}u * {groups}u + lid.x + (c / 4u) * {wx}u) * 4u + c % 4u", groups = tn / 4)
        }
    };
    let row = match layout {
        Layout::VecMN => {
            format!("(wid.y * {wy}u * {groups}u + lid.y + (r / 4u) * {wy}u) * 4u + r % 4u", groups = tm / 4)
        }
        _ => format!("row_start + r * {wy}u"),
    };
    let stores = format!(
        "    var res: array<f32, {count}>;\n{stores}    for (var i = 0u; i < {count}u; i++) {{\n        \
         let r = i / {tn}u;\n        let c = i % {tn}u;\n        let row = {row};\n        \
         let col = {col};\n        if (row < M && col < N) {{ out[o_base + row * N + col] = \
         epilogue(res[i], {batch_args}row, col); }}\n    }}\n"
    );
    vec![("OFFSETS", offsets), ("ACC_DECL", decl), ("LOOP", lp), ("STORES", stores)]
}

/// The k loop (in vec4 steps along k) with A shared across a subgroup of
/// `lanes`: in each run of `lanes` steps, lane `j` loads step `j` of every
/// row and `subgroupBroadcast` gives it to all; the steps past the last
/// full run load A directly.
fn subgroup_loop(tm: u32, lanes: u32, a: &str, body: &str, a_texture: Option<u32>) -> String {
    let mut lp = format!("    let full = (K / 4u) / {lanes}u * {lanes}u;\n");
    lp.push_str(&format!("    for (var k0 = 0u; k0 < full; k0 += {lanes}u) {{\n"));
    (0..tm).for_each(|r| lp.push_str(&a_load(a, r, "k0 + lane", a_texture).replacen("let a", "let s", 1)));
    for j in 0..lanes {
        lp.push_str(&format!("        {{\n        let k = k0 + {j}u;\n"));
        (0..tm).for_each(|r| lp.push_str(&format!("        let a{r} = subgroupBroadcast(s{r}, {j}u);\n")));
        lp.push_str(body);
        lp.push_str("        }\n");
    }
    lp.push_str("    }\n    for (var k = full; k < K / 4u; k++) {\n");
    (0..tm).for_each(|r| lp.push_str(&a_load(a, r, "k", a_texture)));
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

/// The load of A's row `r` at vec4 step `k`: from the buffer (`ra{r}` the
/// row's offset in vec4 units) or from the texture (`ra{r}` the texel of
/// the row's first step).
fn a_load(a: &str, r: u32, k: &str, texture: Option<u32>) -> String {
    if texture.is_some() {
        format!("        let a{r} = textureLoad({a}, ra{r} + vec2<u32>({k}, 0u));\n")
    } else {
        format!("        let a{r} = {a}[ra{r} + {k}];\n")
    }
}
