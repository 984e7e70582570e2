//! The GPU trainer: one compiled step (forward, backward, clipping, update)
//! per call, parameters and optimizer state kept on the device. Checked
//! against PyTorch's optimizer trajectories (tests/fixtures/optim), for
//! bitwise reproducibility, and for save/resume.

mod common;

use common::gpu::device;
use common::optim::{fixture, read, STEPS};
use wgraph::autodiff::mse_loss;
use wgraph::graph::ops;
use wgraph::optim::{AdamConfig, OptimizerConfig, Recipe, Schedule, SgdConfig};
use wgraph::train::{TrainError, Trainer};
use wgraph::{DType, Graph, Tensor, Value, Weights};

const PARAMS: [&str; 4] = ["l1.weight", "l1.bias", "l2.weight", "l2.bias"];

/// The optimizer tests' MLP, forward and loss only (the trainer adds the rest).
fn mlp() -> (Graph, Value) {
    let g = Graph::new("mlp");
    let x = g.input("x", DType::F32, [8, 4]);
    let target = g.input("target", DType::F32, [8, 2]);
    let w1 = g.weight("l1.weight", DType::F32, [5, 4]);
    let b1 = g.weight("l1.bias", DType::F32, [5]);
    let w2 = g.weight("l2.weight", DType::F32, [2, 5]);
    let b2 = g.weight("l2.bias", DType::F32, [2]);
    let y = ops::linear(&ops::tanh(&ops::linear(&x, &w1, Some(&b1))), &w2, Some(&b2));
    g.output_named([("prediction", y.clone())]).unwrap();
    let loss = mse_loss(&y, &target);
    (g, loss)
}

fn initial_weights() -> Weights {
    let file = fixture();
    Weights::from_tensors(PARAMS.map(|p| (p, read(&file, &format!("init.{p}")).cast(DType::F32))))
}

fn batch() -> Vec<(String, Tensor)> {
    let file = fixture();
    vec![
        ("x".into(), read(&file, "data.x").cast(DType::F32)),
        ("target".into(), read(&file, "data.target").cast(DType::F32)),
    ]
}

fn trainer(recipe: Recipe) -> Trainer {
    let (_, loss) = mlp();
    Trainer::new(device(), &loss, &[], &initial_weights(), recipe).unwrap_or_else(|e| panic!("trainer: {e}"))
}

/// `STEPS` steps on the GPU equal PyTorch's f32 trajectory: every loss,
/// and the parameters at the end, within 1e-5 relative to `1 + |ref|`.
fn matches_pytorch(case: &str, recipe: Recipe) {
    let file = fixture();
    let mut t = trainer(recipe);
    let losses: Vec<f64> = (0..STEPS).map(|_| t.step(batch()).unwrap() as f64).collect();
    let want = read(&file, &format!("{case}.f32.loss")).to_f64_vec();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * (1.0 + b.abs());
    for (i, (a, b)) in losses.iter().zip(&want).enumerate() {
        assert!(close(*a, *b), "{case}: step {} loss {a} vs PyTorch {b}", i + 1);
    }
    let params = t.parameters().unwrap();
    for p in PARAMS {
        let got = params.get(p).unwrap().to_f64_vec();
        let want = read(&file, &format!("{case}.f32.param.{p}")).to_f64_vec();
        for (i, (a, b)) in got.iter().zip(&want).enumerate() {
            assert!(close(*a, *b), "{case}: {p}[{i}] = {a}, PyTorch {b}");
        }
    }
    assert_eq!(t.steps_taken(), STEPS);
}

#[test]
fn adamw_on_the_gpu_matches_pytorch() {
    let c = AdamConfig { lr: 0.02, weight_decay: 0.1, ..AdamConfig::default() };
    matches_pytorch("adamw", Recipe::new(OptimizerConfig::AdamW(c)));
}

#[test]
fn clipped_cosine_adamw_on_the_gpu_matches_pytorch() {
    let c = AdamConfig { lr: 0.05, weight_decay: 0.01, ..AdamConfig::default() };
    let schedule = Schedule::Cosine { warmup: 3, total: 10, cycles: 0.5 };
    matches_pytorch(
        "adamw_cosine",
        Recipe::new(OptimizerConfig::AdamW(c)).with_clip_norm(0.45).with_schedule(schedule),
    );
}

#[test]
fn sgd_momentum_on_the_gpu_matches_pytorch() {
    let c = SgdConfig { lr: 0.05, momentum: 0.9, dampening: 0.5, ..SgdConfig::default() };
    matches_pytorch("sgd_momentum", Recipe::new(OptimizerConfig::Sgd(c)));
}

/// Two trainers from the same weights on the same data: identical bits.
#[test]
fn training_is_bitwise_reproducible() {
    let run = || {
        let mut t = trainer(Recipe::new(OptimizerConfig::default()).with_clip_norm(1.0));
        let losses: Vec<u32> = (0..5).map(|_| t.step(batch()).unwrap().to_bits()).collect();
        let params: Vec<Vec<u32>> = PARAMS
            .iter()
            .map(|p| t.parameters().unwrap().get(p).unwrap().to_f32_vec().iter().map(|v| v.to_bits()).collect())
            .collect();
        (losses, params)
    };
    let (a, b) = (run(), run());
    assert_eq!(a, b);
    // And training did something.
    assert_ne!(a.0[0], a.0[4], "the loss did not change over five steps");
}

/// Saving after 3 steps and resuming in a new trainer gives the same
/// parameters, bit for bit, as 6 uninterrupted steps.
#[test]
fn save_state_and_resume_continue_exactly() {
    let recipe = || Recipe::new(OptimizerConfig::default()).with_schedule(Schedule::Linear { warmup: 2, total: 6 });
    let mut straight = trainer(recipe());
    for _ in 0..6 {
        straight.step(batch()).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.safetensors");
    let mut first = trainer(recipe());
    for _ in 0..3 {
        first.step(batch()).unwrap();
    }
    first.save_state(&path).unwrap();
    let mut second = trainer(recipe());
    second.resume(&path).unwrap();
    assert_eq!(second.steps_taken(), 3);
    for _ in 0..3 {
        second.step(batch()).unwrap();
    }
    let (a, b) = (straight.parameters().unwrap(), second.parameters().unwrap());
    for p in PARAMS {
        assert_eq!(a.get(p).unwrap(), b.get(p).unwrap(), "{p}");
    }
    // A file without the step count is refused with a message.
    let params_only = dir.path().join("params.safetensors");
    second.save(&params_only).unwrap();
    let err = trainer(recipe()).resume(&params_only).unwrap_err();
    assert!(matches!(err, TrainError::State { .. }), "{err}");
    assert!(err.to_string().contains("wgraph.step"), "{err}");
}

/// `evaluate` runs the caller's graph on the trained parameters.
#[test]
fn evaluate_sees_the_trained_parameters() {
    let mut t = trainer(Recipe::new(OptimizerConfig::default()));
    let before = t.evaluate(batch()).unwrap().get("prediction").unwrap().clone();
    for _ in 0..3 {
        t.step(batch()).unwrap();
    }
    let after = t.evaluate(batch()).unwrap().get("prediction").unwrap().clone();
    assert_ne!(before, after, "evaluation did not see the updates");
    // The same prediction from the interpreter on the read-back parameters.
    let (g, _) = mlp();
    let weights = Weights::from_tensors(t.parameters().unwrap().0);
    let want = wgraph::Interpreter::new().run(&g, &weights, batch()).unwrap();
    common::assert_close(&after, want.get("prediction").unwrap(), 1e-5, 1e-6, "prediction");
}

#[test]
fn parameters_must_be_weights() {
    let (_, loss) = mlp();
    let not_a_weight = ops::tanh(&loss);
    let err =
        Trainer::new(device(), &loss, &[not_a_weight], &initial_weights(), Recipe::default()).err().expect("an error");
    assert!(matches!(err, TrainError::NotAWeight { op: "tanh", .. }), "{err}");
}

/// A tanh fed inputs a hundred times too large sits at +-1 for every
/// input: the doctor calls it saturated; the same model at a sane scale
/// is not.
#[test]
fn the_doctor_finds_saturated_activations() {
    let run = |scale: f32| {
        let g = Graph::new("saturating");
        let x = g.input("x", DType::F32, [8, 4]);
        let target = g.input("target", DType::F32, [8, 2]);
        let w1 = g.weight("l1.weight", DType::F32, [5, 4]);
        let w2 = g.weight("l2.weight", DType::F32, [2, 5]);
        let h = ops::tanh(&ops::linear(&x, &w1, None)).named("hidden");
        let loss = mse_loss(&ops::linear(&h, &w2, None), &target);
        let file = fixture();
        let w1_init: Vec<f32> = read(&file, "init.l1.weight").to_f32_vec().iter().map(|v| v * scale).collect();
        let weights = Weights::from_tensors([
            ("l1.weight", Tensor::new([5, 4], w1_init).unwrap()),
            ("l2.weight", read(&file, "init.l2.weight").cast(DType::F32)),
        ]);
        let mut t = Trainer::new(device(), &loss, &[], &weights, Recipe::default()).unwrap();
        let x = Tensor::new([8, 4], read(&file, "data.x").to_f32_vec().iter().map(|v| v * 10.0).collect()).unwrap();
        let batch = vec![("x".to_string(), x), ("target".to_string(), read(&file, "data.target").cast(DType::F32))];
        t.diagnose(vec![batch.clone(), batch.clone(), batch], &wgraph::train::DoctorOptions::default()).unwrap()
    };
    let saturated = |d: &wgraph::train::Diagnosis| {
        d.findings
            .iter()
            .any(|f| matches!(f, wgraph::train::Finding::SaturatedActivation { node, .. } if node == "hidden"))
    };
    let hot = run(100.0);
    assert!(saturated(&hot), "{:#?}", hot.findings);
    assert!(hot.lines().iter().any(|l| l.starts_with("doctor: activation `hidden` is saturated")), "{:?}", hot.lines());
    let calm = run(0.01);
    assert!(!saturated(&calm), "{:#?}", calm.findings);
}

/// A log of negative values: the doctor names the first non-finite node
/// (the `log`, in the forward pass) and the step it appeared at.
#[test]
fn the_doctor_names_the_first_non_finite_node() {
    let g = Graph::new("nan");
    let x = g.input("x", DType::F32, [8, 4]);
    let target = g.input("target", DType::F32, [8, 2]);
    let w = g.weight("l1.weight", DType::F32, [2, 4]);
    let logged = ops::log(&ops::linear(&x, &w, None)).named("logged");
    let loss = mse_loss(&logged, &target);
    let file = fixture();
    let weights = Weights::from_tensors([("l1.weight", Tensor::new([2, 4], vec![-1.0f32; 8]).unwrap())]);
    let mut t = Trainer::new(device(), &loss, &[], &weights, Recipe::default()).unwrap();
    let x = Tensor::new([8, 4], vec![1.0f32; 32]).unwrap();
    let batch = vec![("x".to_string(), x), ("target".to_string(), read(&file, "data.target").cast(DType::F32))];
    let d = t.diagnose(vec![batch.clone(), batch], &wgraph::train::DoctorOptions::default()).unwrap();
    let found = d.findings.iter().find_map(|f| match f {
        wgraph::train::Finding::NonFinite { step, node, kind } => Some((*step, node.clone(), *kind)),
        _ => None,
    });
    let (step, node, kind) = found.unwrap_or_else(|| panic!("{:#?}", d.findings));
    assert_eq!((step, kind), (1, "activation"));
    assert!(node.contains("`logged`") && node.contains("log"), "{node}");
}
