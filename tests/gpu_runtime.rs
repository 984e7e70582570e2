//! The runtime: symbolic dims bound per call, typed errors for bad inputs,
//! adapter limits, zero-size tensors and very large grids.

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
use wgraph::graph::ops;
use wgraph::{BindError, DType, Dim, Graph, Interpreter, Loader, RuntimeError, Tensor, Weights};

/// Embedding, a masked attention-like softmax and a projection, over
/// symbolic batch and seq.
fn encoder() -> (Graph, Weights) {
    let g = Graph::new("encoder");
    let (b, s) = (Dim::sym("batch"), Dim::sym("seq"));
    let ids = g.input("input_ids", DType::I64, [b.clone(), s.clone()]);
    let mask = g.input("attention_mask", DType::I64, [b, s]);
    let emb = g.weight("emb", DType::F32, [11usize, 8]);
    let w = g.weight("w", DType::F32, [8usize, 8]);
    let x = ops::gather(&emb, &ids, 0);
    let scores = ops::matmul(&x, &ops::transpose(&x, -1, -2)) * 0.3;
    let keep = ops::unsqueeze(&ops::ne(&mask, &ops::scalar(&g, 0.0, DType::I64)), 1);
    let p = ops::softmax(&ops::select(&keep, &scores, &ops::scalar(&g, f32::MIN as f64, DType::F32)), -1);
    let y = ops::linear(&ops::matmul(&p, &x), &w, None);
    g.output_named([("last_hidden_state", y)]).unwrap();
    let mut rng = Rng(5);
    let weights =
        Weights::from_tensors([("emb", rng.floats(&[11, 8], -1.0, 1.0)), ("w", rng.floats(&[8, 8], -1.0, 1.0))]);
    (g, weights)
}

fn ids(shape: [usize; 2], v: Vec<i64>) -> Tensor {
    Tensor::new(shape, v).unwrap()
}

#[test]
fn one_model_runs_two_sequence_lengths_and_matches_the_interpreter() {
    let (g, w) = encoder();
    let model = Loader::new(device()).load(&g, &w).unwrap();
    let cases = [
        (ids([1, 3], vec![1, 2, 3]), ids([1, 3], vec![1, 1, 1])),
        (ids([2, 5], vec![4, 5, 6, 7, 8, 9, 10, 0, 0, 0]), ids([2, 5], vec![1, 1, 1, 1, 1, 1, 1, 0, 0, 0])),
        (ids([1, 3], vec![3, 2, 1]), ids([1, 3], vec![1, 1, 0])),
    ];
    for (input, mask) in cases {
        let feed = [("input_ids", input), ("attention_mask", mask)];
        let got = model.run(feed.clone()).unwrap();
        let want = Interpreter::new().run(&g, &w, feed).unwrap();
        assert_close(
            got.get("last_hidden_state").unwrap(),
            want.get("last_hidden_state").unwrap(),
            1e-4,
            1e-5,
            "encoder",
        );
    }
}

fn run_err(feed: Vec<(&str, Tensor)>) -> RuntimeError {
    let (g, w) = encoder();
    let model = Loader::new(device()).load(&g, &w).unwrap();
    model.run(feed).unwrap_err()
}

#[test]
fn wrong_inputs_get_typed_errors() {
    let ok = || ids([1, 2], vec![1, 2]);
    assert!(matches!(run_err(vec![("input_ids", ok())]), RuntimeError::Input(BindError::Missing { .. })));
    let e = run_err(vec![("input_ids", ok()), ("attention_mask", Tensor::new([1, 2], vec![1f32, 1.]).unwrap())]);
    assert!(matches!(e, RuntimeError::Input(BindError::DType { .. })), "{e}");
    let e = run_err(vec![("input_ids", Tensor::new([2], vec![1i64, 2]).unwrap()), ("attention_mask", ok())]);
    assert!(matches!(e, RuntimeError::Input(BindError::Rank { .. })), "{e}");
    let e = run_err(vec![("input_ids", ok()), ("attention_mask", ids([1, 3], vec![1, 1, 1]))]);
    assert!(matches!(e, RuntimeError::Input(BindError::Conflict { .. })), "{e}");
    // Token ids outside the embedding table are caught before the GPU clamps them.
    let e = run_err(vec![("input_ids", ids([1, 2], vec![1, 11])), ("attention_mask", ok())]);
    assert_eq!(e.to_string(), "input `input_ids` index 11 is out of range for `emb` with 11 rows (node %4)");
    // i64 values that do not fit the GPU's i32.
    let e = run_err(vec![("input_ids", ok()), ("attention_mask", ids([1, 2], vec![1, 1 << 40]))]);
    assert!(matches!(e, RuntimeError::IntegerRange { .. }), "{e}");
}

#[test]
fn zero_sized_tensors_skip_their_dispatches() {
    let g = Graph::new("empty");
    let x = g.input("x", DType::F32, [Dim::sym("n"), 4.into()]);
    g.output_named([("y", ops::softmax(&ops::relu(&x), -1))]).unwrap();
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let out = model.run([("x", Tensor::new([0, 4], Vec::<f32>::new()).unwrap())]).unwrap();
    assert_eq!(out.get("y").unwrap().shape(), &[0, 4]);
    // And the same model still works on real data afterwards.
    let out = model.run([("x", Tensor::new([1, 4], vec![0f32, 0., 0., 0.]).unwrap())]).unwrap();
    assert_eq!(out.get("y").unwrap().to_f32_vec(), [0.25; 4]);
}

#[test]
fn grids_over_65535_workgroups_are_folded() {
    // 256 * 65,536 + 3 elements: one more workgroup than a 1-D grid allows.
    let n = 256 * 65_536 + 3;
    let g = Graph::new("big");
    let x = g.input("x", DType::F32, [Dim::sym("n")]);
    g.output_named([("y", &x * 2.0)]).unwrap();
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let input: Vec<f32> = (0..n).map(|i| (i % 1000) as f32).collect();
    let out = model.run([("x", Tensor::new([n], input).unwrap())]).unwrap();
    let y = out.get("y").unwrap().to_f32_vec();
    assert_eq!(y.len(), n);
    assert!(
        y.iter().enumerate().all(|(i, &v)| v == 2.0 * (i % 1000) as f32),
        "every element, including the last grid row"
    );
}

#[test]
fn activations_over_the_binding_limit_are_refused_by_name() {
    let g = Graph::new("wide");
    let x = g.input("x", DType::F32, [Dim::sym("n"), 1.into()]);
    let wide = ops::exp(&ops::expand(&x, [Dim::sym("n"), 4096.into()])).named("encoder.wide");
    let other = ops::exp(&ops::expand(&x, [Dim::sym("n"), 4096.into()]));
    g.output_named([("y", ops::sum(&wide, -1, false)), ("z", ops::sum(&(&other * 2.0), -1, false))]).unwrap();
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let limit = device().limits().max_storage_buffer_binding_size as usize;
    let n = limit / (4 * 4096) + 1;
    let e = model.run([("x", Tensor::new([n, 1], vec![0f32; n]).unwrap())]).unwrap_err();
    match e {
        RuntimeError::BufferTooLarge { tensor, bytes, .. } => {
            // Named values are reported by name (the first one over the limit).
            assert_eq!(tensor, "encoder.wide");
            assert_eq!(bytes, (n * 4096 * 4) as u64);
        }
        other => panic!("expected BufferTooLarge, got {other}"),
    }
}

#[test]
fn symbols_bound_only_by_weights_are_known_at_run_time() {
    // The embedding table's row count is symbolic; the checkpoint binds it.
    let g = Graph::new("vocab");
    let ids = g.input("ids", DType::I64, [Dim::sym("n")]);
    let table = g.weight("emb", DType::F32, [Dim::sym("vocab"), 2.into()]);
    let rows = ops::range(&g, 0, 1, "vocab", DType::I64);
    g.output_named([("picked", ops::gather(&table, &ids, 0)), ("rows", rows)]).unwrap();
    let w = Weights::from_tensors([("emb", Tensor::new([3, 2], vec![1f32, 2., 3., 4., 5., 6.]).unwrap())]);
    let model = Loader::new(device()).load(&g, &w).unwrap();
    let out = model.run([("ids", Tensor::new([2], vec![2i64, 0]).unwrap())]).unwrap();
    assert_eq!(out.get("picked").unwrap().to_f32_vec(), [5.0, 6.0, 1.0, 2.0]);
    assert_eq!(out.get("rows").unwrap().to_i64_vec(), [0, 1, 2]);
}

#[test]
fn a_symbol_nothing_binds_is_a_typed_error() {
    let g = Graph::new("unbound");
    let x = g.input("x", DType::F32, [Dim::sym("n")]);
    let r = ops::cast(&ops::range(&g, 0, 1, "m", DType::I64), DType::F32);
    g.output_named([("y", ops::sum(&x, 0, true)), ("r", r)]).unwrap();
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let err = model.run([("x", Tensor::new([2], vec![1f32, 2.]).unwrap())]).unwrap_err();
    assert!(matches!(err, RuntimeError::Input(BindError::Unbound { .. })), "{err}");
    assert_eq!(err.to_string(), "symbol `m` used by the graph is bound by no input");
}

/// A reduction over more than 64 x 65,535 elements in one kernel comes out
/// wrong on lavapipe, whose invocations stop looping after 65,535
/// iterations (llvmpipe's `LP_MAX_TGSI_LOOP_ITERATIONS`): 4.2M ones sum to
/// 131,070. So the compiler splits reductions over long static axes
/// (src/compile/split_reduce.rs). Sum, mean, max and min, to a scalar and
/// along the last axis with a kept dim, on a length with a partial chunk.
#[test]
fn reductions_longer_than_lavapipe_loop_limit_are_complete() {
    let n = 64 * 65_535 + 12_345;
    let g = Graph::new("long_rows");
    let x = g.input("x", DType::F32, [n]);
    let rows = g.input("rows", DType::F32, [2, n]);
    g.output_named([
        ("sum", ops::sum(&x, 0, false)),
        ("mean", ops::mean(&x, 0, false)),
        ("max", ops::max(&x, 0, false)),
        ("min", ops::min(&x, -1, true)),
        ("row_sums", ops::sum(&rows, 1, true)),
        ("ones", ops::sum(&(&(&x * 0.0) + 1.0), 0, false)),
    ])
    .unwrap();
    let mut rng = Rng(11);
    let feed =
        vec![("x".to_string(), rng.floats(&[n], -1.0, 1.0)), ("rows".to_string(), rng.floats(&[2, n], 0.0, 1.0))];
    let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
    assert_eq!(want.get("ones").unwrap().to_f64_vec(), [n as f64]);
    let got = Loader::new(device()).load(&g, &Weights::new()).unwrap().run(feed).unwrap();
    assert_eq!(got.get("ones").unwrap().to_f64_vec(), [n as f64], "every element counted");
    for (name, want) in want.iter() {
        // f32 partial sums of ~4M terms of magnitude <= 1.
        assert_close(got.get(name).unwrap(), want, 1e-4, 1e-2, name);
    }
}

/// A run whose buffers together exceed the memory the device has free is
/// refused before anything is allocated, naming the sizes, even when every
/// single buffer would fit a binding. The machine's memory is capped with
/// the `WGRAPH_MEMORY_LIMIT` setting, so the test allocates nothing large.
#[test]
fn runs_needing_more_memory_than_available_are_refused_before_allocating() {
    let settings = wgraph::Settings { memory_limit: Some(1 << 20), ..wgraph::Settings::default() };
    let dev = wgraph::Device::with_settings(settings).unwrap();
    assert_eq!(dev.memory_available(), Some(1 << 20));
    let g = Graph::new("big");
    let x = g.input("x", DType::F32, [Dim::sym("rows"), Dim::new(64)]);
    g.output_named([("doubled", &x * 2.0), ("squared", &x * &x)]).unwrap();
    let model = Loader::new(&dev).load(&g, &Weights::new()).unwrap();
    // 1024 rows: input and two outputs of 256 KiB each fit in 1 MiB.
    let feed = |rows: usize| vec![("x".to_string(), Tensor::new([rows, 64], vec![1.5f32; rows * 64]).unwrap())];
    let out = model.run(feed(1024)).unwrap();
    assert_eq!(out.get("squared").unwrap().to_f32_vec()[0], 2.25);
    // 2048 rows need 1.5 MiB.
    let e = model.run(feed(2048)).unwrap_err();
    assert!(matches!(e, RuntimeError::OutOfMemory { .. }), "{e}");
    let message = e.to_string();
    assert!(message.contains("rows = 2048") && message.contains("1.0 MiB is available"), "{message}");
}

/// Weights that do not fit in the memory left are refused before any is
/// uploaded.
#[test]
fn weights_larger_than_the_memory_available_are_refused_before_uploading() {
    let settings = wgraph::Settings { memory_limit: Some(8 << 10), ..wgraph::Settings::default() };
    let dev = wgraph::Device::with_settings(settings).unwrap();
    let g = Graph::new("heavy");
    let x = g.input("x", DType::F32, [Dim::sym("n"), Dim::new(64)]);
    let w = g.weight("w", DType::F32, [64usize, 64]);
    g.output_named([("y", ops::matmul(&x, &w))]).unwrap();
    let weights = Weights::from_tensors([("w", Tensor::new([64, 64], vec![0.5f32; 64 * 64]).unwrap())]);
    let e = Loader::new(&dev).load(&g, &weights).err().expect("16 KiB of weights do not fit in 8 KiB");
    assert!(e.to_string().contains("the weights need"), "{e}");
    assert!(matches!(e, wgraph::LoadError::Runtime(RuntimeError::WeightsTooLarge { needed: 16384, .. })), "{e}");
}

/// Sequence lengths growing by one, then shrinking and growing again: an
/// allocation made for a longer sequence serves the shorter ones, with
/// each run's own params (a stale length would mask or read the wrong
/// positions).
#[test]
fn shorter_runs_on_a_longer_runs_buffers_match_the_interpreter() {
    let (g, w) = encoder();
    let model = Loader::new(device()).load(&g, &w).unwrap();
    let mut rng = Rng(9);
    for (batch, seq) in [(1, 2), (1, 3), (1, 4), (1, 5), (2, 3), (1, 9), (1, 1), (2, 7), (3, 2)] {
        let tokens = rng.ints(&[batch, seq], 11);
        let mask: Vec<i64> = (0..batch * seq).map(|i| i64::from(i % seq + 1 < seq || seq == 1)).collect();
        let feed = [("input_ids", tokens), ("attention_mask", ids([batch, seq], mask))];
        let got = model.run(feed.clone()).unwrap();
        let want = Interpreter::new().run(&g, &w, feed).unwrap();
        let what = format!("batch={batch} seq={seq}");
        let (got, want) = (got.get("last_hidden_state").unwrap(), want.get("last_hidden_state").unwrap());
        assert_eq!(got.shape(), want.shape(), "{what}");
        assert_close(got, want, 1e-4, 1e-5, &what);
    }
}

/// Runs at growing lengths keep one allocation, the last (rounded up to a
/// power of two), not one per length: a new allocation replaces those it
/// holds. Held bytes equal a fresh model's after one run at that length.
#[test]
fn a_larger_allocation_replaces_the_ones_it_holds() {
    let (g, w) = encoder();
    let run = |model: &wgraph::Model, seq: usize| {
        let feed = [("input_ids", ids([1, seq], vec![1; seq])), ("attention_mask", ids([1, seq], vec![1; seq]))];
        model.run(feed).unwrap();
    };
    let grown = Loader::new(device()).load(&g, &w).unwrap();
    for seq in [2, 9, 40, 5] {
        run(&grown, seq);
    }
    let fresh = Loader::new(device()).load(&g, &w).unwrap();
    run(&fresh, 64);
    assert!(fresh.held_activation_bytes() > 0);
    assert_eq!(grown.held_activation_bytes(), fresh.held_activation_bytes());
}

/// Held bytes count a texture that several kernels read an activation
/// from once: three products of one normed state (q, k and v) hold what
/// one does plus their two extra outputs (a buffer and a readback copy
/// each), not two more textures.
#[test]
fn an_activation_texture_shared_by_readers_counts_once() {
    let (rows, k, n) = (40usize, 64usize, 32usize);
    let model = |readers: usize| {
        let g = Graph::new("qkv");
        let x = g.input("x", DType::F32, [rows, k]);
        let h = &x * 2.0;
        let outputs: Vec<(String, wgraph::Value)> = (0..readers)
            .map(|i| (format!("y{i}"), ops::matmul(&h, &g.weight(format!("w{i}"), DType::F32, [k, n]))))
            .collect();
        g.output_named(outputs).unwrap();
        let mut r = Rng(3);
        let w = Weights::from_tensors((0..readers).map(|i| (format!("w{i}"), r.floats(&[k, n], -1.0, 1.0))));
        let model = Loader::new(device()).load(&g, &w).unwrap();
        model.run([("x", Rng(4).floats(&[rows, k], -1.0, 1.0))]).unwrap();
        model.held_activation_bytes()
    };
    let output = (rows * n * 4) as u64;
    assert_eq!(model(3) - model(1), 2 * 2 * output);
}

/// A chain of products, each reading the one before as a texture: one
/// activation's texture is free once its reader ran, so the chain's
/// textures come from a pool of one size, whatever its length, and every
/// product still reads its own operand (the interpreter's numbers).
#[test]
fn activation_textures_one_after_another_share_a_pool() {
    let (rows, k) = (40usize, 64usize);
    let run = |links: usize| {
        let g = Graph::new("chain");
        let x = g.input("x", DType::F32, [rows, k]);
        let mut h = &x * 2.0;
        for i in 0..links {
            h = ops::tanh(&ops::matmul(&h, &g.weight(format!("w{i}"), DType::F32, [k, k])));
        }
        g.output_named([("y", h)]).unwrap();
        let mut r = Rng(5);
        let w = Weights::from_tensors((0..links).map(|i| (format!("w{i}"), r.floats(&[k, k], -0.2, 0.2))));
        let model = Loader::new(device()).load(&g, &w).unwrap();
        let feed = [("x", Rng(6).floats(&[rows, k], -1.0, 1.0))];
        let got = model.run(feed.clone()).unwrap();
        let want = Interpreter::new().run(&g, &w, feed).unwrap();
        assert_close(got.get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-5, &format!("chain of {links}"));
        model.held_activation_bytes()
    };
    assert_eq!(run(6), run(2), "four more links, no more activation memory");
}
