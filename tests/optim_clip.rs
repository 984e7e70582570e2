//! Global-norm clipping and learning-rate schedules inside the training
//! step, against PyTorch (`clip_grad_norm_`, `LambdaLR` with `transformers`'
//! lambdas): parameters, state, the returned total norm and the learning
//! rate of every step; and clipping on its own with hand-computed norms.

mod common;

use common::optim::check_case;
use wgraph::optim::{
    clip_grad_norm, global_norm, AdamConfig, OptimError, OptimizerConfig, Recipe, Schedule, SgdConfig,
};
use wgraph::{DType, Graph, Interpreter, Tensor, Weights};

fn adamw(lr: f64, weight_decay: f64) -> OptimizerConfig {
    OptimizerConfig::AdamW(AdamConfig { lr, weight_decay, ..AdamConfig::default() })
}

fn sgd(lr: f64, momentum: f64) -> OptimizerConfig {
    OptimizerConfig::Sgd(SgdConfig { lr, momentum, ..SgdConfig::default() })
}

#[test]
fn adamw_clipped_for_the_first_steps() {
    check_case("adamw_clip", Recipe::new(adamw(0.02, 0.1)).with_clip_norm(0.4));
}

#[test]
fn sgd_momentum_clipped_every_step() {
    check_case("sgd_clip", Recipe::new(sgd(0.05, 0.9)).with_clip_norm(0.3));
}

/// A norm below `max_norm` leaves the update as without clipping.
#[test]
fn clipping_within_bounds() {
    check_case("sgd_clip_inactive", Recipe::new(sgd(0.1, 0.0)).with_clip_norm(100.0));
}

/// Warmup 3 then cosine to step 10, run to 12: the first update has lr 0 and
/// the last two follow the cosine past its end (transformers does not clamp).
#[test]
fn adamw_cosine_with_warmup_and_clipping() {
    let schedule = Schedule::Cosine { warmup: 3, total: 10, cycles: 0.5 };
    check_case("adamw_cosine", Recipe::new(adamw(0.05, 0.01)).with_clip_norm(0.45).with_schedule(schedule));
}

#[test]
fn sgd_linear_with_warmup() {
    let schedule = Schedule::Linear { warmup: 3, total: 10 };
    check_case("sgd_linear", Recipe::new(sgd(0.1, 0.9)).with_schedule(schedule));
}

#[test]
fn adam_constant_with_warmup() {
    let adam = OptimizerConfig::Adam(AdamConfig { lr: 0.03, ..AdamConfig::default() });
    check_case("adam_constant_warmup", Recipe::new(adam).with_schedule(Schedule::Constant { warmup: 4 }));
}

/// Runs `max_norm` clipping of two fixed gradients; returns (norm, clipped).
fn clip_fixed(a: Tensor, b: Tensor, max_norm: f64) -> (f64, Vec<Vec<f64>>) {
    let g = Graph::new("clip");
    let ga = g.input("a", a.dtype(), a.shape().iter().map(|&d| wgraph::Dim::new(d)));
    let gb = g.input("b", b.dtype(), b.shape().iter().map(|&d| wgraph::Dim::new(d)));
    let clipped = clip_grad_norm(&[ga, gb], max_norm).unwrap();
    g.output_named([("norm", &clipped.total_norm), ("a", &clipped.grads[0]), ("b", &clipped.grads[1])]).unwrap();
    let out = Interpreter::new().run(&g, &Weights::new(), [("a", a), ("b", b)]).unwrap();
    let norm = out.get("norm").unwrap();
    assert_eq!(norm.shape(), &[] as &[usize], "the total norm is a scalar");
    (norm.to_f64_vec()[0], vec![out.get("a").unwrap().to_f64_vec(), out.get("b").unwrap().to_f64_vec()])
}

/// Norms 5 ([3, 4]) and 12 ([[12]]) give total 13; max 6.5 scales by
/// 6.5 / (13 + 1e-6).
#[test]
fn clip_by_hand() {
    let a = Tensor::new([2], vec![3.0f64, 4.0]).unwrap();
    let b = Tensor::new([1, 1], vec![12.0f64]).unwrap();
    let (norm, grads) = clip_fixed(a.clone(), b.clone(), 6.5);
    assert_eq!(norm, 13.0);
    let coef = 6.5 / (13.0 + 1e-6);
    assert_eq!(grads, vec![vec![3.0 * coef, 4.0 * coef], vec![12.0 * coef]]);
    // At the norm itself the coefficient is 13 / (13 + 1e-6) < 1; above
    // it, the gradients are multiplied by exactly 1.
    let (_, grads) = clip_fixed(a.clone(), b.clone(), 13.0);
    assert_eq!(grads[1], vec![12.0 * 13.0 / (13.0 + 1e-6)]);
    let (_, grads) = clip_fixed(a, b, 13.000002);
    assert_eq!(grads, vec![vec![3.0, 4.0], vec![12.0]]);
}

/// A NaN norm propagates into the gradients (torch.clamp keeps NaN).
#[test]
fn clip_propagates_nan() {
    let a = Tensor::new([2], vec![f32::NAN, 1.0]).unwrap();
    let b = Tensor::new([1], vec![2.0f32]).unwrap();
    let (norm, grads) = clip_fixed(a, b, 1.0);
    assert!(norm.is_nan());
    assert!(grads.iter().flatten().all(|v| v.is_nan()), "{grads:?}");
}

/// Gradients of two dtypes: the norm is in the first one's dtype.
#[test]
fn global_norm_of_mixed_dtypes() {
    let g = Graph::new("mixed");
    let a = g.input("a", DType::F64, [2]);
    let b = g.input("b", DType::F32, [1]);
    let norm = global_norm(&[a, b]).unwrap();
    assert_eq!(norm.dtype(), DType::F64);
    g.output_named([("norm", &norm)]).unwrap();
    let inputs = [("a", Tensor::new([2], vec![3.0f64, 4.0]).unwrap()), ("b", Tensor::new([1], vec![12.0f32]).unwrap())];
    let out = Interpreter::new().run(&g, &Weights::new(), inputs).unwrap();
    assert_eq!(out.get("norm").unwrap().to_f64_vec(), [13.0]);
}

#[test]
fn clip_refuses_bad_input() {
    let g = Graph::new("bad");
    let a = g.input("a", DType::F32, [2]);
    let e = clip_grad_norm(std::slice::from_ref(&a), -1.0).unwrap_err();
    assert!(matches!(e, OptimError::InvalidHyperparameter { name: "max_norm", .. }), "{e}");
    assert_eq!(clip_grad_norm(&[], 1.0).unwrap_err(), OptimError::NoParameters);
    let ids = g.input("ids", DType::I64, [2]);
    let e = global_norm(&[a, ids]).unwrap_err();
    assert!(e.to_string().contains("gradient `ids` has dtype i64"), "{e}");
    let other = Graph::new("other").input("c", DType::F32, [2]);
    let e = global_norm(&[g.input("d", DType::F32, [1]), other]).unwrap_err();
    assert!(e.to_string().contains("belongs to graph `other`"), "{e}");
}
