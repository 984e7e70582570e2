//! The host side of the optimizers: schedules against hand-computed values
//! (with LambdaLR's step indexing), the descriptor API a command line
//! builds from flags, PyTorch's defaults and range checks, and the errors.

use wgraph::graph::ops;
use wgraph::optim::{
    self, AdamConfig, OptimError, OptimFlags, OptimizerConfig, OptimizerKind, Recipe, Schedule, ScheduleKind, SgdConfig,
};
use wgraph::{DType, Graph};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-15
}

fn factors(s: Schedule, n: u64) -> Vec<f64> {
    (0..n).map(|i| s.factor(i)).collect()
}

#[test]
fn constant_schedule() {
    assert_eq!(factors(Schedule::default(), 3), [1.0, 1.0, 1.0]);
    // get_constant_schedule_with_warmup(4): 0, 1/4, 2/4, 3/4, then 1.
    assert_eq!(factors(Schedule::Constant { warmup: 4 }, 6), [0.0, 0.25, 0.5, 0.75, 1.0, 1.0]);
}

#[test]
fn linear_schedule() {
    // Warmup 2 over 6 steps: 0, 1/2, then (6 - s) / 4 down to 0 and clamped.
    let s = Schedule::Linear { warmup: 2, total: 6 };
    assert_eq!(factors(s, 9), [0.0, 0.5, 1.0, 0.75, 0.5, 0.25, 0.0, 0.0, 0.0]);
    // No warmup: the first update already decays from 1.
    assert_eq!(factors(Schedule::Linear { warmup: 0, total: 4 }, 5), [1.0, 0.75, 0.5, 0.25, 0.0]);
    // Warmup longer than training: max(1, total - warmup) keeps it finite.
    assert_eq!(factors(Schedule::Linear { warmup: 5, total: 3 }, 7), [0.0, 0.2, 0.4, 0.6, 0.8, 0.0, 0.0]);
}

#[test]
fn cosine_schedule() {
    // Warmup 2 over 6 steps: progress (s - 2) / 4, factor (1 + cos(pi p)) / 2.
    let s = Schedule::Cosine { warmup: 2, total: 6, cycles: 0.5 };
    let f = factors(s, 10);
    let half = std::f64::consts::FRAC_1_SQRT_2;
    let want = [0.0, 0.5, 1.0, 0.5 + 0.5 * half, 0.5, 0.5 - 0.5 * half, 0.0, 0.5 - 0.5 * half, 0.5, 0.5 + 0.5 * half];
    for (i, (a, b)) in f.iter().zip(want).enumerate() {
        assert!(close(*a, b), "index {i}: {a} vs {b}");
    }
    assert_eq!(Schedule::new(ScheduleKind::Cosine, 2, 6), s);
}

/// LambdaLR: update `t` uses `lr_lambda(t - 1)`, so with warmup the first
/// update has learning rate 0.
#[test]
fn updates_use_the_previous_index() {
    let s = Schedule::Linear { warmup: 2, total: 6 };
    assert_eq!(s.lr(0.1, 1).unwrap(), 0.0);
    assert_eq!(s.lr(0.1, 2).unwrap(), 0.05);
    assert_eq!(s.lr(0.1, 3).unwrap(), 0.1);
    assert_eq!(s.lr(0.1, 0).unwrap_err(), OptimError::StepZero);
    // Through an appended update, which reads the recipe's schedule.
    let g = Graph::new("one");
    let w = g.weight("w", DType::F32, [2]);
    let grad = ops::scalar(&g, 1.0, DType::F32);
    let grad = ops::expand(&grad, [2]);
    let recipe = Recipe::new(OptimizerConfig::Sgd(SgdConfig { lr: 0.1, ..SgdConfig::default() })).with_schedule(s);
    let update = recipe.append(&[w], &[grad]).unwrap();
    let lrs: Vec<f64> = (1..=4).map(|t| update.step_scalars(t).unwrap().get("optimizer.lr").unwrap()).collect();
    assert_eq!(lrs, [0.0, 0.05, 0.1, 0.1 * 0.75]);
}

#[test]
fn pytorch_defaults() {
    assert_eq!(
        OptimizerConfig::default(),
        OptimizerConfig::AdamW(AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
            maximize: false
        })
    );
    assert_eq!(OptimizerConfig::defaults(OptimizerKind::Adam).weight_decay(), 0.0);
    let sgd = SgdConfig::default();
    assert_eq!((sgd.lr, sgd.momentum, sgd.dampening, sgd.weight_decay, sgd.nesterov), (1e-3, 0.0, 0.0, 0.0, false));
    assert_eq!(Recipe::default().clip_norm, None);
    assert_eq!(Recipe::default().schedule, Schedule::Constant { warmup: 0 });
}

#[test]
fn recipe_from_flags() {
    let flags = OptimFlags {
        optimizer: "SGD".parse().unwrap(),
        lr: Some(0.5),
        momentum: Some(0.9),
        clip_norm: Some(1.0),
        warmup: Some(10),
        schedule: Some("cosine".parse().unwrap()),
        steps: 100,
        ..OptimFlags::default()
    };
    let r = Recipe::from_flags(&flags).unwrap();
    assert_eq!(r.optimizer, OptimizerConfig::Sgd(SgdConfig { lr: 0.5, momentum: 0.9, ..SgdConfig::default() }));
    assert_eq!(r.clip_norm, Some(1.0));
    assert_eq!(r.schedule, Schedule::Cosine { warmup: 10, total: 100, cycles: 0.5 });

    // Defaults per optimizer: AdamW keeps weight decay 0.01; --warmup alone
    // warms up to a constant rate.
    let r = Recipe::from_flags(&OptimFlags { warmup: Some(3), steps: 50, ..OptimFlags::default() }).unwrap();
    assert_eq!(r.optimizer, OptimizerConfig::default());
    assert_eq!(r.schedule, Schedule::Constant { warmup: 3 });
    let r = Recipe::from_flags(&OptimFlags { weight_decay: Some(0.0), ..OptimFlags::default() }).unwrap();
    assert_eq!(r.optimizer.weight_decay(), 0.0);
}

#[test]
fn flag_errors() {
    let e = "adamm".parse::<OptimizerKind>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown optimizer `adamm` (expected one of: adamw, adam, sgd)\n  hint: did you mean `adam`?"
    );
    let e = "rmsprop".parse::<OptimizerKind>().unwrap_err();
    assert_eq!(e.to_string(), "unknown optimizer `rmsprop` (expected one of: adamw, adam, sgd)");
    assert!("step".parse::<ScheduleKind>().is_err());

    let e = Recipe::from_flags(&OptimFlags { momentum: Some(0.9), ..OptimFlags::default() }).unwrap_err();
    assert_eq!(e, OptimError::NotApplicable { option: "--momentum", optimizer: "adamw" });
    let e = Recipe::from_flags(&OptimFlags { lr: Some(-1.0), ..OptimFlags::default() }).unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid learning rate: -1 (expected >= 0)\n  hint: these are the ranges torch.optim accepts"
    );
    let e = Recipe::from_flags(&OptimFlags { clip_norm: Some(f64::NAN), ..OptimFlags::default() }).unwrap_err();
    assert!(matches!(e, OptimError::InvalidHyperparameter { name: "max_norm", .. }), "{e}");
    let bad_beta = OptimizerConfig::Adam(AdamConfig { beta2: 1.0, ..AdamConfig::default() });
    assert!(matches!(bad_beta.validate(), Err(OptimError::InvalidHyperparameter { name: "beta2", .. })));
    let nesterov =
        OptimizerConfig::Sgd(SgdConfig { nesterov: true, momentum: 0.9, dampening: 0.1, ..SgdConfig::default() });
    assert_eq!(nesterov.validate().unwrap_err(), OptimError::Nesterov { momentum: 0.9, dampening: 0.1 });
}

#[test]
fn append_errors() {
    let g = Graph::new("errors");
    let w = g.weight("w", DType::F32, [2, 3]);
    let b = g.weight("b", DType::F32, [3]);
    let x = g.input("x", DType::F32, [3]);
    let ids = g.weight("ids", DType::I64, [3]);
    let adamw = OptimizerConfig::default();
    let e = optim::append(&adamw, &[], &[]).unwrap_err();
    assert_eq!(e, OptimError::NoParameters);
    let e = optim::append(&adamw, std::slice::from_ref(&w), &[]).unwrap_err();
    assert_eq!(e, OptimError::LengthMismatch { params: 1, grads: 0 });
    let e = optim::append(&adamw, std::slice::from_ref(&x), std::slice::from_ref(&x)).unwrap_err();
    assert!(e.to_string().starts_with("parameter 0 is `x` (op `input`), not a weight"), "{e}");
    let e = optim::append(&adamw, std::slice::from_ref(&ids), std::slice::from_ref(&ids)).unwrap_err();
    assert_eq!(e, OptimError::NotFloat { name: "ids".into(), dtype: DType::I64 });
    let e = optim::append(&adamw, std::slice::from_ref(&w), std::slice::from_ref(&b)).unwrap_err();
    let first =
        format!("the gradient of `w` has type {}, but the parameter has type {}", b.ty().unwrap(), w.ty().unwrap());
    assert_eq!(e.to_string().lines().next(), Some(first.as_str()));
    let e = optim::append(&adamw, &[b.clone(), b.clone()], &[b.clone(), b.clone()]).unwrap_err();
    assert_eq!(e, OptimError::DuplicateParameter { name: "b".into() });
    let other = Graph::new("other").weight("v", DType::F32, [3]);
    let e = optim::append(&adamw, &[b.clone(), other.clone()], &[b.clone(), other]).unwrap_err();
    assert!(e.to_string().starts_with("`v` belongs to graph `other`, not to graph `errors`"), "{e}");
    let sym = g.weight("sym", DType::F32, [wgraph::Dim::sym("n")]);
    let update = optim::append(&adamw, std::slice::from_ref(&sym), std::slice::from_ref(&sym)).unwrap();
    assert!(matches!(update.initial_state(), Err(OptimError::SymbolicShape { .. })));
}
