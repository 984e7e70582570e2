//! The optimizer tests' shared problem: a two-layer MLP fitted with MSE to
//! fixed data, differentiated by wgraph's autodiff, updated by a
//! [`Recipe`], stepped K times on the interpreter (each step's outputs fed
//! back as the next step's weights), and compared with the PyTorch
//! trajectories in tests/fixtures/optim/optim.safetensors (generator:
//! tests/fixtures/optim/generate.py; CI never runs PyTorch).

use wgraph::autodiff::{self, mse_loss};
use wgraph::graph::ops;
use wgraph::optim::{Recipe, Update};
use wgraph::{DType, Graph, Interpreter, Tensor, Weights};

/// Steps each case runs (the generator's `STEPS`).
pub const STEPS: u64 = 12;

/// The parameters, in the order given to the optimizer.
pub const PARAMS: [&str; 4] = ["l1.weight", "l1.bias", "l2.weight", "l2.bias"];

/// The PyTorch references.
pub fn fixture() -> Weights {
    let path = super::fixture("optim/optim.safetensors");
    Weights::open([&path]).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads `name` from the fixture (stored f64 or f32, as stored).
pub fn read(file: &Weights, name: &str) -> Tensor {
    file.read(name).unwrap_or_else(|e| panic!("fixture: {e}"))
}

/// The training-step graph in `dtype`: loss, clipping and update appended.
pub fn build(recipe: &Recipe, dtype: DType) -> (Graph, Update) {
    let g = Graph::new("mlp");
    let x = g.input("x", dtype, [8, 4]);
    let target = g.input("target", dtype, [8, 2]);
    let w1 = g.weight("l1.weight", dtype, [5, 4]);
    let b1 = g.weight("l1.bias", dtype, [5]);
    let w2 = g.weight("l2.weight", dtype, [2, 5]);
    let b2 = g.weight("l2.bias", dtype, [2]);
    let h = ops::tanh(&ops::linear(&x, &w1, Some(&b1)));
    let loss = mse_loss(&ops::linear(&h, &w2, Some(&b2)), &target);
    let params = [w1, b1, w2, b2];
    let grads = autodiff::backward(&loss, &params).expect("gradients");
    let update = recipe.append(grads.params(), grads.values()).expect("optimizer update");
    g.output_named([("loss".to_string(), loss)]).unwrap();
    if let Some(norm) = update.total_norm() {
        g.output_named([("total_norm".to_string(), norm.clone())]).unwrap();
    }
    g.output_named(update.named_outputs()).unwrap();
    (g, update)
}

/// What K steps produced.
pub struct Trajectory {
    /// Parameters and state after the last step, by weight name.
    pub weights: Weights,
    pub losses: Vec<f64>,
    pub lrs: Vec<f64>,
    pub total_norms: Vec<f64>,
}

/// Runs `steps` updates from the fixture's initial parameters and zero state.
pub fn train(recipe: &Recipe, dtype: DType, steps: u64) -> (Update, Trajectory) {
    let file = fixture();
    let (g, update) = build(recipe, dtype);
    let mut weights = Weights::from_tensors(update.initial_state().expect("initial state"));
    for p in PARAMS {
        weights.insert(p, read(&file, &format!("init.{p}")).cast(dtype));
    }
    let data = [("x", read(&file, "data.x").cast(dtype)), ("target", read(&file, "data.target").cast(dtype))];
    let (mut losses, mut lrs, mut total_norms) = (Vec::new(), Vec::new(), Vec::new());
    let interp = Interpreter::new();
    for step in 1..=steps {
        let mut inputs: Vec<(String, Tensor)> = data.iter().map(|(n, t)| (n.to_string(), t.clone())).collect();
        inputs.extend(update.step_inputs(step).expect("step inputs"));
        let out = interp.run(&g, &weights, inputs).unwrap_or_else(|e| panic!("step {step}: {e}"));
        losses.push(out.get("loss").unwrap().to_f64_vec()[0]);
        lrs.push(update.lr(step).unwrap());
        if let Some(n) = out.get("total_norm") {
            total_norms.push(n.to_f64_vec()[0]);
        }
        for (name, _) in update.named_outputs() {
            weights.insert(name.clone(), out.get(&name).unwrap().clone());
        }
    }
    (update, Trajectory { weights, losses, lrs, total_norms })
}

/// The largest `|got - want| / (1 + |want|)`, after checking shapes.
pub fn worst(got: &[f64], want: &[f64], what: &str) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: length");
    got.iter().zip(want).map(|(a, b)| (a - b).abs() / (1.0 + b.abs())).fold(0.0, f64::max)
}

/// Runs `case` in f64 and f32 and compares parameters, optimizer state,
/// losses, learning rates and clipping norms with PyTorch's: within 1e-12
/// (f64) and 1e-5 (f32), relative to `1 + |reference|`. Returns the worst
/// error of each precision.
pub fn check_case(case: &str, recipe: Recipe) -> (f64, f64) {
    let file = fixture();
    let mut worst_of = Vec::new();
    for (dtype, tag, tol) in [(DType::F64, "f64", 1e-12), (DType::F32, "f32", 1e-5)] {
        let (update, run) = train(&recipe, dtype, STEPS);
        let prefix = format!("{case}.{tag}");
        let mut errors: Vec<(String, f64)> = Vec::new();
        let mut compare = |what: String, got: Vec<f64>, want: Vec<f64>| {
            let e = worst(&got, &want, &what);
            errors.push((what, e));
        };
        for p in PARAMS {
            let got = run.weights.read(p).unwrap();
            let want = read(&file, &format!("{prefix}.param.{p}"));
            assert_eq!(got.shape(), want.shape(), "{prefix}: {p}");
            assert_eq!(got.dtype(), dtype, "{prefix}: {p} dtype");
            compare(format!("param {p}"), got.to_f64_vec(), want.to_f64_vec());
        }
        // The same state tensors as PyTorch keeps, none missing or extra.
        let theirs: Vec<String> = file
            .names()
            .filter_map(|n| n.strip_prefix(&format!("{prefix}.state.")).map(|s| format!("optimizer.{s}")))
            .collect();
        let mut ours = update.state_names();
        ours.sort();
        assert_eq!(ours, theirs, "{prefix}: optimizer state names");
        for name in &ours {
            let got = run.weights.read(name).unwrap();
            let want = read(&file, &format!("{prefix}.state.{}", name.strip_prefix("optimizer.").unwrap()));
            assert_eq!(got.shape(), want.shape(), "{prefix}: {name}");
            compare(format!("state {name}"), got.to_f64_vec(), want.to_f64_vec());
        }
        compare("loss".into(), run.losses.clone(), read(&file, &format!("{prefix}.loss")).to_f64_vec());
        let lr_error = worst(&run.lrs, &read(&file, &format!("{prefix}.lr")).to_f64_vec(), "lr");
        assert!(lr_error <= 1e-15, "{prefix}: learning rates differ by {lr_error:e}: {:?}", run.lrs);
        match file.info(&format!("{prefix}.total_norm")) {
            Some(_) => compare(
                "total_norm".into(),
                run.total_norms.clone(),
                read(&file, &format!("{prefix}.total_norm")).to_f64_vec(),
            ),
            None => assert!(run.total_norms.is_empty(), "{prefix}: clipped, PyTorch did not"),
        }
        let (what, e) = errors.iter().cloned().fold((String::new(), 0.0), |a, b| if b.1 > a.1 { b } else { a });
        eprintln!("{prefix}: worst relative error {e:.3e} ({what})");
        for (what, e) in &errors {
            assert!(*e <= tol, "{prefix}: {what} differs from PyTorch by {e:e} (tolerance {tol:e})");
        }
        worst_of.push(e);
    }
    (worst_of[0], worst_of[1])
}
