//! `torch.optim.SGD` as IR against PyTorch: 12 steps on a two-layer MLP,
//! parameters and momentum buffers to 1e-12 in f64 and 1e-5 in f32, plus
//! the first-step buffer rule on its own.

mod common;

use common::optim::{check_case, train, PARAMS};
use wgraph::optim::{OptimizerConfig, Recipe, SgdConfig};
use wgraph::{DType, Tensor};

fn sgd(c: SgdConfig) -> Recipe {
    Recipe::new(OptimizerConfig::Sgd(c))
}

#[test]
fn plain() {
    check_case("sgd", sgd(SgdConfig { lr: 0.1, ..SgdConfig::default() }));
}

#[test]
fn momentum_with_dampening() {
    check_case("sgd_momentum", sgd(SgdConfig { lr: 0.05, momentum: 0.9, dampening: 0.5, ..SgdConfig::default() }));
}

#[test]
fn nesterov_with_weight_decay() {
    let c = SgdConfig { lr: 0.05, momentum: 0.9, nesterov: true, weight_decay: 0.01, ..SgdConfig::default() };
    check_case("sgd_nesterov", sgd(c));
}

#[test]
fn weight_decay() {
    check_case("sgd_weight_decay", sgd(SgdConfig { lr: 0.1, weight_decay: 0.05, ..SgdConfig::default() }));
}

#[test]
fn maximize() {
    check_case("sgd_maximize", sgd(SgdConfig { lr: 0.01, momentum: 0.5, maximize: true, ..SgdConfig::default() }));
}

/// PyTorch's first step sets the buffer to the gradient, not
/// `momentum * 0 + (1 - dampening) * grad`: after one step with dampening
/// 0.5 the buffer is the full gradient, so `p1 = p0 - lr * buf1` exactly and
/// the buffer equals `(p0 - p1) / lr`.
#[test]
fn first_step_sets_the_buffer_to_the_gradient() {
    let c = SgdConfig { lr: 0.5, momentum: 0.9, dampening: 0.5, ..SgdConfig::default() };
    let (update, first) = train(&sgd(c), DType::F64, 1);
    let (_, plain) = train(&sgd(SgdConfig { lr: 0.5, ..SgdConfig::default() }), DType::F64, 1);
    assert_eq!(update.state_names().len(), PARAMS.len());
    for p in PARAMS {
        // The same step as plain SGD (no dampening on step 1) ...
        let (a, b) = (first.weights.read(p).unwrap(), plain.weights.read(p).unwrap());
        assert_eq!(a, b, "{p}: the first momentum step differs from plain SGD");
        // ... and a nonzero buffer holding the undampened gradient.
        let buf = first.weights.read(&format!("optimizer.{p}.momentum_buffer")).unwrap();
        assert!(buf.to_f64_vec().iter().any(|v| v.abs() > 1e-3), "{p}: buffer {buf:?}");
    }
    let scalars = update.step_scalars(1).unwrap();
    assert_eq!(scalars.get("optimizer.momentum_buffer_decay"), Some(0.0));
    assert_eq!(scalars.get("optimizer.momentum_grad_weight"), Some(1.0));
    let later = update.step_scalars(2).unwrap();
    assert_eq!(later.get("optimizer.momentum_buffer_decay"), Some(0.9));
    assert_eq!(later.get("optimizer.momentum_grad_weight"), Some(0.5));
}

/// SGD without momentum keeps no state and reads only the learning rate;
/// with momentum, one buffer per parameter of its exact shape and dtype.
#[test]
fn state_and_scalar_inputs() {
    let (update, _) = train(&sgd(SgdConfig::default()), DType::F32, 1);
    assert!(update.state_names().is_empty());
    assert_eq!(update.scalar_names(), ["optimizer.lr"]);
    assert_eq!(update.step_inputs(3).unwrap(), vec![("optimizer.lr".to_string(), Tensor::scalar(1e-3f32))]);

    let (update, _) = train(&sgd(SgdConfig { momentum: 0.9, ..SgdConfig::default() }), DType::F32, 1);
    let init = update.initial_state().unwrap();
    let names: Vec<&str> = init.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "optimizer.l1.weight.momentum_buffer",
            "optimizer.l1.bias.momentum_buffer",
            "optimizer.l2.weight.momentum_buffer",
            "optimizer.l2.bias.momentum_buffer"
        ]
    );
    assert_eq!(init[0].1, Tensor::zeros(DType::F32, [5, 4]).unwrap());
    assert_eq!(init[1].1, Tensor::zeros(DType::F32, [5]).unwrap());
    let mut scalars = update.scalar_names();
    scalars.sort();
    assert_eq!(scalars, ["optimizer.lr", "optimizer.momentum_buffer_decay", "optimizer.momentum_grad_weight"]);
}
