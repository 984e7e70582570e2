//! `torch.optim.Adam` and `AdamW` as IR against PyTorch: 12 steps on a
//! two-layer MLP, parameters, `exp_avg` and `exp_avg_sq` to 1e-12 in f64
//! and 1e-5 in f32; and the host scalars against hand-computed values.

mod common;

use common::optim::{check_case, train, PARAMS};
use wgraph::optim::{step_scalars, AdamConfig, OptimizerConfig, Recipe};
use wgraph::{DType, Tensor};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-15 * (1.0 + b.abs())
}

#[test]
fn adam_with_l2_weight_decay() {
    let c = AdamConfig { lr: 0.02, weight_decay: 0.1, ..AdamConfig::default() };
    check_case("adam", Recipe::new(OptimizerConfig::Adam(c)));
}

/// `beta1 = 0.4` makes the lerp weight 0.6, ATen's second lerp branch.
#[test]
fn adam_other_betas_and_eps() {
    let c = AdamConfig { lr: 0.05, beta1: 0.4, beta2: 0.99, eps: 1e-6, ..AdamConfig::default() };
    check_case("adam_betas", Recipe::new(OptimizerConfig::Adam(c)));
}

#[test]
fn adamw_decoupled_weight_decay() {
    let c = AdamConfig { lr: 0.02, weight_decay: 0.1, ..AdamConfig::default() };
    check_case("adamw", Recipe::new(OptimizerConfig::AdamW(c)));
}

#[test]
fn adamw_pytorch_defaults() {
    check_case("adamw_defaults", Recipe::default());
}

/// Adam's first step, by hand: with zero state, `m = 0.1 g`, `v = 0.001 g^2`,
/// `step_size = lr / 0.1`, `bias_correction2_sqrt = sqrt(0.001)`, so
/// `p1 = p0 - lr * g / (|g| + eps)` up to rounding: every entry with a
/// gradient well above eps moves by lr.
#[test]
fn adam_first_step_moves_each_weight_by_lr() {
    let c = AdamConfig { lr: 0.01, ..AdamConfig::default() };
    let (_, run) = train(&Recipe::new(OptimizerConfig::Adam(c)), DType::F64, 1);
    let file = common::optim::fixture();
    for p in PARAMS {
        let before = common::optim::read(&file, &format!("init.{p}")).to_f64_vec();
        let after = run.weights.read(p).unwrap().to_f64_vec();
        let m = run.weights.read(&format!("optimizer.{p}.exp_avg")).unwrap().to_f64_vec();
        for ((a, b), m) in after.iter().zip(&before).zip(&m) {
            let g = m / 0.1;
            let want = b - 0.01 * g / (g.abs() + 1e-8);
            assert!((a - want).abs() < 1e-14, "{p}: {a} vs {want}");
        }
    }
}

/// The scalars PyTorch computes for steps 1, 2 and 10, by hand.
#[test]
fn adam_host_scalars() {
    let adam = OptimizerConfig::Adam(AdamConfig { lr: 0.1, ..AdamConfig::default() });
    let s1 = step_scalars(&adam, 1, 0.1).unwrap();
    // bias_correction1 = 1 - 0.9 = 0.1 (0.09999999999999998 in f64)
    assert!(close(s1.get("optimizer.step_size").unwrap(), 1.0));
    assert_eq!(s1.get("optimizer.step_size"), Some(0.1 / (1.0 - 0.9)));
    assert_eq!(s1.get("optimizer.bias_correction2_sqrt"), Some((1.0f64 - 0.999).powf(0.5)));
    assert!(close(s1.get("optimizer.bias_correction2_sqrt").unwrap(), 0.001f64.sqrt()));
    assert_eq!(s1.get("optimizer.weight_decay_factor"), None, "Adam has no decoupled decay");
    let s2 = step_scalars(&adam, 2, 0.1).unwrap();
    assert!(close(s2.get("optimizer.step_size").unwrap(), 0.1 / 0.19));
    assert!(close(s2.get("optimizer.bias_correction2_sqrt").unwrap(), 0.001999f64.sqrt()));
    let s10 = step_scalars(&adam, 10, 0.05).unwrap();
    let bc1 = 1.0 - 0.3486784401; // 0.9^10
    assert!(close(s10.get("optimizer.step_size").unwrap(), 0.05 / bc1));
    assert_eq!(s10.lr, 0.05);

    let adamw = OptimizerConfig::AdamW(AdamConfig { lr: 0.1, weight_decay: 0.2, ..AdamConfig::default() });
    let w = step_scalars(&adamw, 3, 0.05).unwrap();
    assert!(close(w.get("optimizer.weight_decay_factor").unwrap(), 0.99));
    assert!(close(w.get("optimizer.step_size").unwrap(), 0.05 / 0.271));
    assert!(step_scalars(&adamw, 0, 0.05).is_err(), "steps are 1-based");
}

/// State weights are `optimizer.<param>.exp_avg` / `.exp_avg_sq`, zeros of
/// the parameter's shape and dtype; the scalar inputs are rank 0 in the
/// parameters' dtype, and AdamW adds the weight-decay factor.
#[test]
fn adam_state_and_inputs() {
    let (update, _) = train(&Recipe::default(), DType::F32, 1);
    let init = update.initial_state().unwrap();
    assert_eq!(init.len(), 2 * PARAMS.len());
    assert_eq!(init[0].0, "optimizer.l1.weight.exp_avg");
    assert_eq!(init[1].0, "optimizer.l1.weight.exp_avg_sq");
    assert_eq!(init[3], ("optimizer.l1.bias.exp_avg_sq".to_string(), Tensor::zeros(DType::F32, [5]).unwrap()));
    let mut names = update.scalar_names();
    names.sort();
    assert_eq!(names, ["optimizer.bias_correction2_sqrt", "optimizer.step_size", "optimizer.weight_decay_factor"]);
    for (name, t) in update.step_inputs(1).unwrap() {
        assert_eq!((t.dtype(), t.shape()), (DType::F32, &[][..]), "{name}");
    }
    let outputs: Vec<String> = update.named_outputs().into_iter().map(|(n, _)| n).collect();
    assert_eq!(&outputs[..4], PARAMS);
    assert_eq!(outputs.len(), 12);

    let (update, _) = train(&Recipe::new(OptimizerConfig::defaults(wgraph::optim::OptimizerKind::Adam)), DType::F64, 1);
    assert_eq!(update.scalar_dtype(), DType::F64);
    assert_eq!(update.scalar_names().len(), 2, "Adam without weight decay reads two scalars");
}

/// The whole training step (forward, backward, clipping, AdamW with a
/// schedule) in f32 compiles device-free into one program: rank-0 scalar
/// inputs, state weights and every update op lower to kernels.
#[test]
fn training_step_compiles_to_one_program() {
    let recipe =
        Recipe::default().with_clip_norm(1.0).with_schedule(wgraph::optim::Schedule::Linear { warmup: 2, total: 10 });
    let (g, update) = common::optim::build(&recipe, DType::F32);
    let ir = g.ir().unwrap();
    let program = wgraph::compile::compile(&ir, &Default::default(), &wgraph::compile::Target::cpu_driver())
        .unwrap_or_else(|e| panic!("{e}"));
    let text = format!("{program:?}");
    for name in update.scalar_names().iter().chain(&update.state_names()) {
        assert!(text.contains(name.as_str()), "{name} is not in the program");
    }
}
