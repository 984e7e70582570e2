//! Kernel choice by measurement: every candidate the tuner may time
//! computes what the interpreter computes (so numbers never depend on which
//! won), the winners persist in the device's tuning cache and every later
//! compile on the device uses them, `WGRAPH_TUNE=off` keeps the compiler's
//! own rule, and a corrupt cache is ignored.

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
use std::path::Path;
use wgraph::compile::{candidates, MatmulPolicy, MatmulSignature, TuneMode};
use wgraph::graph::{ops, Bindings, Op};
use wgraph::{CompileOptions, DType, Device, Dim, Graph, Interpreter, LoadError, Loader, RuntimeError, Settings};
use wgraph::{Tensor, Tuner, Weights};

/// (batch, m, k, n, B a transposed Linear weight, B a weight rather than an input)
const CASES: [(usize, usize, usize, usize, bool, bool); 4] = [
    (2, 33, 48, 64, true, true),
    (1, 40, 44, 20, false, true),
    (3, 7, 12, 20, false, false),
    (2, 1, 8, 16, true, true),
];

/// `[batch, m, k] x B` plus a bias, B a weight or an input.
fn product(batch: usize, m: usize, k: usize, n: usize, transposed: bool, weight: bool) -> Graph {
    let g = Graph::new("mm");
    let a = g.input("a", DType::F32, [Dim::new(batch), Dim::new(m), Dim::new(k)]);
    let w_shape = if transposed { [n, k] } else { [k, n] };
    let w = if weight { g.weight("w", DType::F32, w_shape) } else { g.input("w", DType::F32, w_shape) };
    let y = if transposed { ops::linear(&a, &w, None) } else { ops::matmul(&a, &w) };
    g.output_named([("y", ops::relu(&y))]).unwrap();
    g
}

#[test]
fn every_candidate_the_tuner_may_time_agrees_with_the_interpreter() {
    let mut rng = Rng(2024);
    let target = device().target();
    let policy = MatmulPolicy::for_target(&target, None, target.max_texture_side).unwrap();
    let mut tried = 0;
    for (batch, m, k, n, transposed, weight) in CASES {
        let g = product(batch, m, k, n, transposed, weight);
        let w_shape = if transposed { [n, k] } else { [k, n] };
        let w = rng.floats(&w_shape, -1.0, 1.0);
        let (weights, mut feed) = if weight {
            (Weights::from_tensors([("w", w)]), Vec::new())
        } else {
            (Weights::new(), vec![("w".to_string(), w)])
        };
        feed.push(("a".to_string(), rng.floats(&[batch, m, k], -1.0, 1.0)));
        let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
        let ir = g.ir().unwrap().clone();
        let mm = ir.graph.node_indices().find(|&n| matches!(ir.node(n).op, Op::MatMul)).unwrap();
        let case = MatmulSignature::case(&ir, mm, true, &Bindings::new()).unwrap();
        for kernel in candidates(&target, &case, policy.pick(&ir, mm), TuneMode::Full) {
            let options = CompileOptions { matmul: Some(kernel), ..Default::default() };
            let what = format!("{kernel} on {}", case.signature);
            let model = Loader::new(device())
                .with_options(options)
                .load(&g, &weights)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            let got = model.run(feed.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_close(got.get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-4, &what);
            tried += 1;
        }
    }
    assert!(tried > 25, "only {tried} candidates tried");
}

/// A device whose wgraph cache directory is `dir`, tuning as `tune` says.
fn device_with(dir: &Path, tune: Option<&str>) -> Device {
    let settings =
        Settings { pipeline_cache: Some(dir.to_path_buf()), tune: tune.map(String::from), ..Settings::default() };
    Device::with_settings(settings).expect("GPU tests need an adapter")
}

/// The d_model-64 linear of a small transformer, rows symbolic.
fn linear_64() -> (Graph, Weights, Vec<(String, Tensor)>) {
    let mut rng = Rng(7);
    let g = Graph::new("linear");
    let x = g.input("x", DType::F32, [Dim::sym("tokens"), Dim::new(64)]);
    let w = g.weight("w", DType::F32, [64usize, 64]);
    g.output_named([("y", ops::linear(&x, &w, None))]).unwrap();
    let weights = Weights::from_tensors([("w", rng.floats(&[64, 64], -1.0, 1.0))]);
    (g, weights, vec![("x".to_string(), rng.floats(&[96, 64], -1.0, 1.0))])
}

/// The kernel variant the one matmul of `model` got.
fn variant(model: &wgraph::Model) -> String {
    let kernel = model.program().kernels.iter().find(|k| k.variant.is_some()).expect("a matmul kernel");
    kernel.variant.clone().unwrap_or_default()
}

#[test]
fn measured_choices_persist_and_every_compile_on_the_device_uses_them() {
    let dir = tempfile::tempdir().unwrap();
    let (g, weights, feed) = linear_64();
    let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
    let dev = device_with(dir.path(), None);
    let untuned = Loader::new(&dev).load(&g, &weights).unwrap();
    let rule = variant(&untuned);

    // Tuning times the candidates at the sizes given and saves the winner.
    let mut tuner = Tuner::with_mode(&dev, TuneMode::Quick);
    let bindings: Bindings = [("tokens".into(), 96)].into_iter().collect();
    let tuned = tuner.tune_program(untuned.program(), &bindings, false, |_| {}).unwrap();
    assert_eq!(tuned.len(), 1);
    assert!(tuned[0].timings.len() >= 2, "{:?}", tuned[0].timings);
    assert_eq!(tuned[0].rule.to_string(), rule);
    assert!(tuned[0].timings.iter().any(|t| t.kernel == tuned[0].chosen));
    let path = tuner.save().unwrap().expect("a cache directory");
    assert!(path.starts_with(dir.path()) && path.is_file(), "{}", path.display());

    // A new tuner finds it and measures nothing; a compile uses it.
    let again =
        Tuner::with_mode(&dev, TuneMode::Quick).tune_program(untuned.program(), &bindings, false, |_| {}).unwrap();
    assert!(again[0].timings.is_empty() && again[0].chosen == tuned[0].chosen);
    let model = Loader::new(&dev).load(&g, &weights).unwrap();
    assert_eq!(variant(&model), tuned[0].chosen.to_string());

    // Whatever the table holds is what the next compile generates: plant a
    // kernel no rule picks for this product, and check the numbers.
    let key = tuned[0].case.signature.to_string();
    let planted = "register 3x5 4x2";
    let text = format!(r#"{{"format": 3, "device": [], "matmul": {{"{key}": "{planted}"}}}}"#);
    std::fs::write(&path, text).unwrap();
    let model = Loader::new(&dev).load(&g, &weights).unwrap();
    assert_eq!(variant(&model), planted);
    assert_close(model.run(feed.clone()).unwrap().get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-4, planted);

    // WGRAPH_TUNE=off: the compiler's own rule, whatever the cache says.
    let off = device_with(dir.path(), Some("off"));
    assert_eq!(variant(&Loader::new(&off).load(&g, &weights).unwrap()), rule);
    // A kernel the caller fixes wins over the table.
    let fixed = CompileOptions { matmul: Some(wgraph::compile::REGISTER), ..Default::default() };
    let model = Loader::new(&dev).with_options(fixed).load(&g, &weights).unwrap();
    assert_eq!(variant(&model), wgraph::compile::REGISTER.to_string());

    // A corrupt or foreign file is ignored: the rule again, no error.
    for junk in ["{not json", r#"{"format": 99, "matmul": {}}"#, ""] {
        std::fs::write(&path, junk).unwrap();
        assert_eq!(variant(&Loader::new(&dev).load(&g, &weights).unwrap()), rule, "{junk:?}");
    }
}

/// A run of a few rows (a short request) is served by the few-rows
/// variant: the kernel for any number of rows is timed at a sequence's
/// worth, never chosen from that short run for every later one.
#[test]
fn a_short_run_tunes_symbolic_rows_at_a_sequence_of_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (g, weights, _) = linear_64();
    let dev = device_with(dir.path(), None);
    let model = Loader::new(&dev).load(&g, &weights).unwrap();
    let mut tuner = Tuner::with_mode(&dev, TuneMode::Quick);
    let short: Bindings = [("tokens".into(), 3)].into_iter().collect();
    let tuned = tuner.tune_program(model.program(), &short, false, |_| {}).unwrap();
    assert_eq!(tuned[0].case.m, wgraph::compile::SYMBOLIC_ROWS_TIMED, "{:?}", tuned[0].case);
    let one_row_kernels =
        tuned[0].timings.iter().filter(|t| matches!(t.kernel, wgraph::compile::MatmulKernel::Register { wy: 1, .. }));
    assert_eq!(one_row_kernels.count(), 0, "matrix-vector kernels timed: {:?}", tuned[0].timings);
    // A run past the few-rows reach is timed at its own rows.
    let long: Bindings = [("tokens".into(), 40)].into_iter().collect();
    let again = Tuner::with_mode(&dev, TuneMode::Quick).tune_program(model.program(), &long, true, |_| {}).unwrap();
    assert_eq!(again[0].case.m, 40);
}

#[test]
fn a_tiered_model_tunes_in_the_background_after_its_first_results() {
    let dir = tempfile::tempdir().unwrap();
    let (g, weights, feed) = linear_64();
    let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
    let dev = device_with(dir.path(), None);
    let model = Loader::new(&dev).load_tiered(&g, &weights).unwrap();
    assert_eq!(model.tier(), wgraph::KernelTier::Quick, "lavapipe compiles at first dispatch: two tiers");
    // The first results come from the quick kernels; tuning starts at the
    // second run (a process that runs once never tunes), at its sizes.
    for run in ["first run", "second run"] {
        let got = model.run(feed.clone()).unwrap();
        assert_close(got.get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-4, run);
    }
    let tuned = model.wait_tuned().unwrap();
    let table = wgraph::runtime::tune::table_for(&dev).unwrap();
    assert_eq!(table.matmul.len(), 1, "the signature tuned and saved: {table:?}");
    let chosen = table.matmul.values().next().unwrap().to_string();
    assert_eq!(variant(&tuned), chosen, "the tuned tier compiled with the winner");
    assert_close(tuned.run(feed.clone()).unwrap().get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-4, "tuned");
    // A model loaded after it starts from the table.
    assert_eq!(variant(&Loader::new(&dev).load(&g, &weights).unwrap()), chosen);

    // Run once and waited for: the tuned tier comes without tuning.
    let other = tempfile::tempdir().unwrap();
    let dev = device_with(other.path(), None);
    let model = Loader::new(&dev).load_tiered(&g, &weights).unwrap();
    model.run(feed.clone()).unwrap();
    model.wait_tuned().unwrap();
    assert!(wgraph::runtime::tune::table_for(&dev).unwrap().matmul.is_empty());
}

#[test]
fn an_unknown_tuning_mode_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (g, weights, _) = linear_64();
    let dev = device_with(dir.path(), Some("fastest"));
    match Loader::new(&dev).load(&g, &weights) {
        Err(LoadError::Runtime(RuntimeError::UnknownTuneMode { value })) => assert_eq!(value, "fastest"),
        other => panic!("expected UnknownTuneMode, got {:?}", other.map(|_| "a model")),
    }
}
