//! Every matmul kernel configuration (register blocking of several block
//! and workgroup shapes, with and without A shared across subgroups,
//! workgroup tiles) against the interpreter, on every operand layout:
//! row-major, transposed weight, batched with broadcasting, odd sizes, k
//! shorter than a subgroup's run and k with a remainder after it. The
//! subgroup-shared kernels run at the device's subgroup width; on lavapipe
//! the tests also run with 512-bit vectors (16-lane subgroups) in a child
//! process.

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
use wgraph::compile::MatmulKernel;
use wgraph::graph::ops;
use wgraph::{CompileOptions, Dim, Graph, Interpreter, Loader, Tensor, Weights};

const KERNELS: [MatmulKernel; 16] = [
    MatmulKernel::Register { tm: 8, tn: 16, wx: 8, wy: 8, subgroup_a: false },
    MatmulKernel::Register { tm: 3, tn: 5, wx: 4, wy: 2, subgroup_a: false },
    MatmulKernel::Register { tm: 4, tn: 8, wx: 16, wy: 1, subgroup_a: false },
    wgraph::compile::REGISTER_SUBGROUP,
    MatmulKernel::Register { tm: 5, tn: 8, wx: 8, wy: 3, subgroup_a: true },
    wgraph::compile::register_subgroup(16),
    MatmulKernel::Register { tm: 5, tn: 8, wx: 16, wy: 3, subgroup_a: true },
    MatmulKernel::Tiled { tile: 16, tm: 2 },
    MatmulKernel::Tiled { tile: 32, tm: 4 },
    wgraph::compile::REGISTER_SMALL,
    wgraph::compile::REGISTER_NARROW,
    wgraph::compile::REGISTER_HALF,
    wgraph::compile::REGISTER_QUARTER,
    // The matrix-vector kernel, 3 rows per invocation (the shapes have more).
    MatmulKernel::Register { tm: 3, tn: 4, wx: 16, wy: 1, subgroup_a: false },
    // ... and with the rows' loads shared across a subgroup.
    MatmulKernel::Register { tm: 3, tn: 4, wx: 8, wy: 1, subgroup_a: true },
    MatmulKernel::Register { tm: 3, tn: 8, wx: 16, wy: 1, subgroup_a: true },
];

/// (batch, m, k, n, B stored transposed)
const SHAPES: [(usize, usize, usize, usize, bool); 8] = [
    (1, 64, 32, 48, false),
    (1, 40, 44, 24, false),
    (2, 19, 72, 16, true),
    (2, 7, 12, 20, false),
    (3, 5, 16, 36, true),
    (1, 33, 9, 17, false),
    (2, 1, 8, 4, true),
    (1, 70, 64, 24, true),
];

/// The subgroup-shared kernels of `KERNELS` this device runs (its
/// subgroup width; none without fixed-size subgroups). A child process
/// started by `sixteen_lane_subgroups_agree_on_wide_vectors` insists on
/// the 16 lanes it asked lavapipe for.
fn shared_a() -> Vec<MatmulKernel> {
    let lanes = device().subgroup_size();
    match std::env::var(WIDE_LANES).as_deref() {
        Ok("any") | Err(_) => {}
        Ok(want) => assert_eq!(lanes.map(|l| l.to_string()).as_deref(), Some(want), "{WIDE_LANES}: the subgroup width"),
    }
    KERNELS
        .into_iter()
        .filter(|k| matches!(k, MatmulKernel::Register { wx, subgroup_a: true, .. } if Some(*wx) == lanes))
        .collect()
}

/// Set in the child process that runs these tests at 512-bit vectors.
const WIDE_LANES: &str = "WGRAPH_TEST_SUBGROUP_LANES";

/// lavapipe at 512-bit vectors (`LP_NATIVE_VECTOR_WIDTH=512`) has 16-lane
/// subgroups on AVX-512 CPUs, where the compiler picks the 16-lane
/// subgroup block: this file's agreement tests run again in a child
/// process there (elsewhere at whatever width lavapipe takes). Other
/// adapters have their own subgroup width, which the tests above use.
#[test]
fn sixteen_lane_subgroups_agree_on_wide_vectors() {
    if std::env::var(WIDE_LANES).is_ok() || !device().describe().contains("llvmpipe") {
        println!("not lavapipe, or already the child: the tests above ran at this device's width");
        return;
    }
    let cpu = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let avx512 = cpu.lines().any(|l| l.starts_with("flags") && l.split_whitespace().any(|f| f == "avx512f"));
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["agree", "--test-threads", "1"])
        .env("LP_NATIVE_VECTOR_WIDTH", "512")
        .env(WIDE_LANES, if avx512 { "16" } else { "any" })
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("test result: ok. 4 passed"), "{text}");
}

#[test]
fn every_matmul_kernel_agrees_with_the_interpreter() {
    let mut rng = Rng(99);
    for (batch, m, k, n, transposed) in SHAPES {
        let g = Graph::new("mm");
        let a = g.input("a", wgraph::DType::F32, [Dim::new(batch), Dim::new(m), Dim::new(k)]);
        let w_shape = if transposed { [n, k] } else { [k, n] };
        let w = g.input("w", wgraph::DType::F32, w_shape);
        let bias = g.input("bias", wgraph::DType::F32, [n]);
        let y = if transposed { ops::linear(&a, &w, Some(&bias)) } else { &ops::matmul(&a, &w) + &bias };
        g.output_named([("y", ops::gelu(&y, wgraph::Gelu::Tanh))]).unwrap();
        let feed = vec![
            ("a".to_string(), rng.floats(&[batch, m, k], -1.0, 1.0)),
            ("w".to_string(), rng.floats(&w_shape, -1.0, 1.0)),
            ("bias".to_string(), rng.floats(&[n], -1.0, 1.0)),
        ];
        let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
        for kernel in KERNELS {
            let options = CompileOptions { matmul: Some(kernel), ..Default::default() };
            let compiled = Loader::new(device()).with_options(options).load(&g, &Weights::new());
            if let MatmulKernel::Register { wx, subgroup_a: true, .. } = kernel {
                if device().subgroup_size() != Some(wx) {
                    // Without subgroups of that size the kernel is refused, by name.
                    let err = compiled.err().map(|e| e.to_string()).unwrap_or_default();
                    assert!(err.contains(&format!("subgroups of {wx} lanes")), "{err}");
                    continue;
                }
            }
            let model = compiled.unwrap();
            let got: Tensor = model.run(feed.clone()).unwrap().get("y").unwrap().clone();
            let what = format!("{kernel:?} on {batch}x{m}x{k}x{n} (transposed {transposed})");
            assert_close(&got, want.get("y").unwrap(), 1e-4, 1e-5, &what);
        }
    }
}

/// Weights as B: read from textures where the kernel can (2-D, rows a
/// whole number of texels), from buffers otherwise, and the same numbers
/// either way. (m, k, n, weight stored [n, k])
#[test]
fn weights_read_as_textures_agree_with_the_interpreter() {
    let mut rng = Rng(7);
    let shapes = [(37, 64, 40, true), (5, 44, 24, false), (70, 96, 36, true), (9, 12, 10, false), (3, 40, 6, true)];
    for (m, k, n, transposed) in shapes {
        let g = Graph::new("linear");
        let x = g.input("x", wgraph::DType::F32, [Dim::new(2), Dim::new(m), Dim::new(k)]);
        let w_shape = if transposed { [n, k] } else { [k, n] };
        let w = g.weight("w", wgraph::DType::F32, w_shape);
        let y = if transposed { ops::linear(&x, &w, None) } else { ops::matmul(&x, &w) };
        g.output_named([("y", y)]).unwrap();
        let weights = Weights::from_tensors([("w", rng.floats(&w_shape, -1.0, 1.0))]);
        let feed = vec![("x".to_string(), rng.floats(&[2, m, k], -1.0, 1.0))];
        let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
        for kernel in [KERNELS[0], KERNELS[1]].into_iter().chain(shared_a()) {
            for texture_weights in [true, false] {
                let options = CompileOptions { matmul: Some(kernel), texture_weights, ..Default::default() };
                let model = Loader::new(device()).with_options(options).load(&g, &weights).unwrap();
                let textured = model.program().kernels.iter().any(|k| !k.textures.is_empty());
                // Rows of whole texels go to textures when allowed, and only then.
                let whole_texels = if transposed { k % 4 == 0 } else { n % 4 == 0 };
                // A row-major B is read as vec4 of columns only when the block's columns come in fours.
                let vec4 = match kernel {
                    MatmulKernel::Register { tn, .. } => transposed || tn % 4 == 0,
                    MatmulKernel::Tiled { .. } => false,
                };
                assert_eq!(textured, texture_weights && whole_texels && vec4, "{kernel:?} {m}x{k}x{n}");
                let got = model.run(feed.clone()).unwrap().get("y").unwrap().clone();
                let what = format!("{kernel:?} on {m}x{k}x{n} (transposed {transposed}, textures {textured})");
                assert_close(&got, want.get("y").unwrap(), 1e-4, 1e-5, &what);
            }
        }
    }
}

/// Activations as A, next to a weight read as a texture: copied into a
/// texture before each product, `fold` rows to a texture row. Row counts
/// under one texture row, exactly one, and one and a part, bound per run
/// on one model; the numbers equal the interpreter's and the buffers'.
#[test]
fn activations_read_as_textures_agree_with_the_interpreter() {
    let mut rng = Rng(11);
    let (k, n) = (8, 12);
    let g = Graph::new("linear");
    let x = g.input("x", wgraph::DType::F32, [Dim::sym("batch"), Dim::sym("seq"), Dim::new(k)]);
    let w = g.weight("w", wgraph::DType::F32, [n, k]);
    g.output_named([("y", ops::linear(&x, &w, None))]).unwrap();
    let weights = Weights::from_tensors([("w", rng.floats(&[n, k], -1.0, 1.0))]);
    for kernel in [KERNELS[0]].into_iter().chain(shared_a().into_iter().take(1)) {
        let textured = CompileOptions { matmul: Some(kernel), ..Default::default() };
        let model = Loader::new(device()).with_options(textured).load(&g, &weights).unwrap();
        let copies: Vec<_> = model.program().kernels.iter().flat_map(|k| k.texture_copies.clone()).collect();
        assert_eq!(copies.len(), 1, "{kernel:?}: x is copied into a texture");
        let fold = copies[0].fold as usize;
        assert!(fold >= 1 && (fold * k / 4).is_multiple_of(16), "texture rows are 256-byte multiples: fold {fold}");
        let buffers = CompileOptions { matmul: Some(kernel), texture_weights: false, ..Default::default() };
        let plain = Loader::new(device()).with_options(buffers).load(&g, &weights).unwrap();
        assert!(plain.program().kernels.iter().all(|k| k.texture_copies.is_empty()));
        for (batch, seq) in [(1, 1), (2, 37), (1, fold), (3, fold / 2 + 5)] {
            let feed = vec![("x".to_string(), rng.floats(&[batch, seq, k], -1.0, 1.0))];
            let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
            let what = format!("{kernel:?} on {batch}x{seq} rows (fold {fold})");
            let got = model.run(feed.clone()).unwrap().get("y").unwrap().clone();
            assert_close(&got, want.get("y").unwrap(), 1e-4, 1e-5, &what);
            let from_buffers = plain.run(feed).unwrap().get("y").unwrap().clone();
            assert_close(&got, &from_buffers, 1e-6, 1e-6, &format!("{what}, against buffers"));
        }
    }
}

/// Values that change between runs as B (a trained weight, an
/// activation), next to an activation A: both copied into textures before
/// each product. Transposed in place (a Linear's `[n, k]` weight) and
/// row-major with k long enough that B's rows span several texture rows;
/// equal to the interpreter and to the same kernels reading buffers.
#[test]
fn changing_values_as_b_are_copied_into_textures() {
    let mut rng = Rng(21);
    let (m, n) = (37, 12);
    let max_side = device().target().max_texture_side as usize;
    // VecKN's copy folds 16 * (max_side / 48) rows of 12 values to a texture row.
    let long_k = 16 * (max_side / 48) + 8;
    for (k, transposed) in [(24, true), (24, false), (long_k, false)] {
        let g = Graph::new("product");
        let x = g.input("x", wgraph::DType::F32, [Dim::new(m), Dim::new(k)]);
        let b_shape = if transposed { [n, k] } else { [k, n] };
        let b = g.input("b", wgraph::DType::F32, b_shape);
        g.output_named([("y", if transposed { ops::linear(&x, &b, None) } else { ops::matmul(&x, &b) })]).unwrap();
        let weights = Weights::new();
        for kernel in [KERNELS[0], wgraph::compile::REGISTER_HALF].into_iter().chain(shared_a().into_iter().take(1)) {
            let what = format!("{kernel:?} on {m}x{k}x{n} (B transposed {transposed})");
            let textured = CompileOptions { matmul: Some(kernel), ..Default::default() };
            let model = Loader::new(device()).with_options(textured).load(&g, &weights).unwrap();
            let copies: usize = model.program().kernels.iter().map(|k| k.texture_copies.len()).sum();
            assert_eq!(copies, 2, "{what}: x and b are copied into textures");
            let buffers = CompileOptions { matmul: Some(kernel), texture_weights: false, ..Default::default() };
            let plain = Loader::new(device()).with_options(buffers).load(&g, &weights).unwrap();
            for _ in 0..2 {
                let feed = vec![
                    ("x".to_string(), rng.floats(&[m, k], -1.0, 1.0)),
                    ("b".to_string(), rng.floats(&b_shape, -1.0, 1.0)),
                ];
                let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
                let got = model.run(feed.clone()).unwrap().get("y").unwrap().clone();
                // Sums of thousands of terms in another order: rounding grows with k.
                let atol = 1e-5 * (k as f64 / 24.0).sqrt();
                assert_close(&got, want.get("y").unwrap(), 1e-4, atol, &what);
                let from_buffers = plain.run(feed).unwrap().get("y").unwrap().clone();
                assert_close(&got, &from_buffers, 1e-4, atol, &format!("{what}, against buffers"));
            }
        }
    }
}

/// A weight gradient's product, `xᵀ @ dy` over k stored rows (tokens):
/// both operands copied into textures, four rows and four columns per
/// texel (`VecMN`). k short, odd and longer than a texture row holds,
/// m and n not multiples of the block; equal to the interpreter and to
/// the buffers.
#[test]
fn transposed_a_products_read_both_operands_from_textures() {
    let mut rng = Rng(5);
    let max_side = device().target().max_texture_side as usize;
    for (k, m, n) in [(7, 12, 20), (1408, 64, 64), ((3 * max_side + 5).min(60_000), 12, 8)] {
        let g = Graph::new("weight_gradient");
        let x = g.input("x", wgraph::DType::F32, [Dim::new(k), Dim::new(m)]);
        let dy = g.input("dy", wgraph::DType::F32, [Dim::new(k), Dim::new(n)]);
        g.output_named([("dw", ops::matmul(&ops::transpose(&x, 0, 1), &dy))]).unwrap();
        let weights = Weights::new();
        for kernel in [KERNELS[0], wgraph::compile::REGISTER_QUARTER, wgraph::compile::REGISTER_SMALL] {
            let what = format!("{kernel:?} on ({m}x{k})ᵀ x {k}x{n}");
            let textured = CompileOptions { matmul: Some(kernel), ..Default::default() };
            let model = Loader::new(device()).with_options(textured).load(&g, &weights).unwrap();
            let copies: usize = model.program().kernels.iter().map(|k| k.texture_copies.len()).sum();
            let blocks_of_four = matches!(kernel, MatmulKernel::Register { tm, tn, .. } if tm % 4 == 0 && tn % 4 == 0);
            assert_eq!(copies, if blocks_of_four { 2 } else { 0 }, "{what}: x and dy copied into textures");
            let buffers = CompileOptions { matmul: Some(kernel), texture_weights: false, ..Default::default() };
            let plain = Loader::new(device()).with_options(buffers).load(&g, &weights).unwrap();
            let feed = vec![
                ("x".to_string(), rng.floats(&[k, m], -1.0, 1.0)),
                ("dy".to_string(), rng.floats(&[k, n], -1.0, 1.0)),
            ];
            let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
            let got = model.run(feed.clone()).unwrap().get("dw").unwrap().clone();
            let atol = (2e-7 * k as f64).max(1e-5);
            assert_close(&got, want.get("dw").unwrap(), 1e-4, atol, &what);
            let from_buffers = plain.run(feed).unwrap().get("dw").unwrap().clone();
            assert_close(&got, &from_buffers, 1e-4, atol, &format!("{what}, against buffers"));
        }
    }
}

/// llvmpipe stops an invocation's loops after 65,535 iterations in all
/// and returns what its registers hold: a product whose k loop would run
/// longer is refused by name there, while the same k read four at a time
/// (a transposed Linear weight, `VecK`) stays within it and is exact.
#[test]
fn k_loops_past_the_drivers_limit_are_refused_not_cut_short() {
    let mut rng = Rng(8);
    let k = 70_000;
    let g = Graph::new("long_k");
    let x = g.input("x", wgraph::DType::F32, [Dim::new(k), Dim::new(4)]);
    let dy = g.input("dy", wgraph::DType::F32, [Dim::new(k), Dim::new(4)]);
    g.output_named([("dw", ops::matmul(&ops::transpose(&x, 0, 1), &dy))]).unwrap();
    let feed =
        vec![("x".to_string(), rng.floats(&[k, 4], -1.0, 1.0)), ("dy".to_string(), rng.floats(&[k, 4], -1.0, 1.0))];
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
    match (device().loop_limit(), model.run(feed)) {
        (Some(limit), Err(e @ wgraph::RuntimeError::LoopLimit { .. })) => {
            let text = e.to_string();
            assert!(text.contains("70000 times") && text.contains(&limit.to_string()), "{text}");
            assert!(text.contains("matmul") && text.contains("hint:"), "{text}");
        }
        (None, Ok(got)) => assert_close(got.get("dw").unwrap(), want.get("dw").unwrap(), 1e-4, 0.02, "no loop limit"),
        (limit, other) => panic!("limit {limit:?}: expected the refusal exactly where there is a limit, got {other:?}"),
    }
    // x @ wᵀ over the same k: the loop reads four values a step.
    let g = Graph::new("long_k_linear");
    let x = g.input("x", wgraph::DType::F32, [Dim::new(3), Dim::new(k)]);
    let w = g.input("w", wgraph::DType::F32, [Dim::new(5), Dim::new(k)]);
    g.output_named([("y", ops::linear(&x, &w, None))]).unwrap();
    let feed =
        vec![("x".to_string(), rng.floats(&[3, k], -1.0, 1.0)), ("w".to_string(), rng.floats(&[5, k], -1.0, 1.0))];
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
    let got = model.run(feed).unwrap();
    assert_close(got.get("y").unwrap(), want.get("y").unwrap(), 1e-4, 0.02, "k of 70,000 read as vec4");
    // The tiled kernel loops about 51 times per 32-long tile of k.
    let tiled = CompileOptions { matmul: Some(MatmulKernel::Tiled { tile: 32, tm: 4 }), ..Default::default() };
    for (k, refused) in [(30_000, false), (45_000, device().loop_limit().is_some())] {
        let g = Graph::new("long_k_tiled");
        let x = g.input("x", wgraph::DType::F32, [Dim::new(8), Dim::new(k)]);
        let w = g.input("w", wgraph::DType::F32, [Dim::new(k), Dim::new(8)]);
        g.output_named([("y", ops::matmul(&x, &w))]).unwrap();
        let feed =
            vec![("x".to_string(), rng.floats(&[8, k], -1.0, 1.0)), ("w".to_string(), rng.floats(&[k, 8], -1.0, 1.0))];
        let model = Loader::new(device()).with_options(tiled.clone()).load(&g, &Weights::new()).unwrap();
        match model.run(feed.clone()) {
            Err(wgraph::RuntimeError::LoopLimit { .. }) if refused => {}
            Ok(got) if !refused => {
                let want = Interpreter::new().run(&g, &Weights::new(), feed).unwrap();
                assert_close(got.get("y").unwrap(), want.get("y").unwrap(), 1e-4, 0.02, &format!("tiled, k {k}"));
            }
            other => panic!("tiled, k {k}: refused {refused} expected, got {other:?}"),
        }
    }
}

/// A Linear weight taller than the device's textures (an LLM's head of
/// tens of thousands of rows) is still read from a texture, its rows
/// folded several to a texture row: one token and a few, equal to the
/// interpreter.
#[test]
fn weights_taller_than_a_texture_fold_into_one() {
    let mut rng = Rng(3);
    let (k, n) = (8, 40_003);
    let g = Graph::new("head");
    let x = g.input("x", wgraph::DType::F32, [Dim::sym("tokens"), Dim::new(k)]);
    let w = g.weight("w", wgraph::DType::F32, [n, k]);
    g.output_named([("y", ops::linear(&x, &w, None))]).unwrap();
    let weights = Weights::from_tensors([("w", rng.floats(&[n, k], -1.0, 1.0))]);
    let model = Loader::new(device()).load(&g, &weights).unwrap();
    let program = model.program();
    let w_node = program.ir.weights().into_iter().next().expect("the head weight");
    assert!(program.kernels.iter().any(|kern| kern.textures.contains(&w_node)), "the head is read from a texture");
    // Held only as a texture, the weight still reads back exactly (rows
    // folded, the last texture row partly filled).
    assert_eq!(model.weight_names(), ["w"]);
    let read = model.read_weights(&["w"]).unwrap();
    assert_eq!(read.get("w").unwrap(), &weights.get("w", wgraph::DType::F32).unwrap(), "the head read back");
    for tokens in [1, 5] {
        let feed = vec![("x".to_string(), rng.floats(&[tokens, k], -1.0, 1.0))];
        let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
        let got = model.run(feed).unwrap().get("y").unwrap().clone();
        assert_close(&got, want.get("y").unwrap(), 1e-4, 1e-5, &format!("{tokens} tokens by {n} columns"));
    }
}

/// A Linear over a symbolic number of tokens carries a few-rows variant;
/// one model runs short inputs on it and long ones on the tiled block,
/// both equal to the interpreter, the weight read from a texture or a
/// buffer alike.
#[test]
fn symbolic_rows_switch_to_the_few_rows_variant_and_back() {
    let mut rng = Rng(7);
    let (k, n) = (48, 40);
    let g = Graph::new("linear");
    let x = g.input("x", wgraph::DType::F32, [Dim::sym("tokens"), Dim::new(k)]);
    let w = g.weight("w", wgraph::DType::F32, [n, k]);
    let b = g.weight("b", wgraph::DType::F32, [n]);
    g.output_named([("y", ops::gelu(&ops::linear(&x, &w, Some(&b)), wgraph::Gelu::Tanh))]).unwrap();
    let weights = Weights::from_tensors([("w", rng.floats(&[n, k], -1.0, 1.0)), ("b", rng.floats(&[n], -1.0, 1.0))]);
    for texture_weights in [true, false] {
        let options = CompileOptions { texture_weights, ..CompileOptions::default() };
        let model = Loader::new(device()).with_options(options).load(&g, &weights).unwrap();
        assert!(model.program().kernels.iter().any(|k| k.few_rows.is_some()), "the linear has a few-rows variant");
        for tokens in [1, 3, 16, 17, 70, 2] {
            let feed = vec![("x".to_string(), rng.floats(&[tokens, k], -1.0, 1.0))];
            let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
            let got = model.run(feed).unwrap();
            let what = format!("{tokens} tokens, textures {texture_weights}");
            common::assert_close(got.get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-5, &what);
        }
    }
}
