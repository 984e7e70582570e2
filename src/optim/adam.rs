//! `torch.optim.Adam` and `AdamW` as IR, following `_single_tensor_adam`
//! (the non-capturable path) operation by operation:
//!
//! ```text
//! g = -grad if maximize else grad
//! p = p * (1 - lr * weight_decay)                   (AdamW, if weight_decay != 0)
//! g = g + weight_decay * p                          (Adam, if weight_decay != 0)
//! m = m.lerp(g, 1 - beta1)
//! v = v * beta2 + (1 - beta2) * g * g
//! denom = sqrt(v) / bias_correction2_sqrt + eps
//! p = p - step_size * m / denom
//! ```
//!
//! with, on the host for step `t` (1-based, in f64 as Python computes it):
//! `bias_correction1 = 1 - beta1**t`, `bias_correction2 = 1 - beta2**t`,
//! `step_size = lr / bias_correction1`, `bias_correction2_sqrt =
//! bias_correction2**0.5`. `eps` is added after the bias correction, so it
//! is not scaled by it. `lerp` follows ATen's two-branch formula for the
//! (build-time constant) weight.

use super::config::AdamConfig;
use super::state::{Param, ScalarInputs, StateSlot, StateUpdate};
use crate::graph::{ops, Value};

/// Input `optimizer.step_size`: `lr / (1 - beta1**t)`.
pub const STEP_SIZE: &str = "optimizer.step_size";
/// Input `optimizer.bias_correction2_sqrt`: `(1 - beta2**t)**0.5`.
pub const BIAS_CORRECTION2_SQRT: &str = "optimizer.bias_correction2_sqrt";
/// Input `optimizer.weight_decay_factor` (AdamW only): `1 - lr * weight_decay`.
pub const WEIGHT_DECAY_FACTOR: &str = "optimizer.weight_decay_factor";

/// ATen's `lerp(self, end, weight)` for a scalar weight known when building:
/// `self + w * (end - self)` when `|w| < 0.5`, else `end - (end - self) * (1 - w)`.
fn lerp(start: &Value, end: &Value, weight: f64) -> Value {
    let diff = end - start;
    if weight.abs() < 0.5 {
        start + &(weight * &diff)
    } else {
        end - &(&diff * (1.0 - weight))
    }
}

/// Appends one parameter's Adam (`decoupled = false`) or AdamW update;
/// returns the new parameter and state.
pub(crate) fn update(
    c: &AdamConfig,
    decoupled: bool,
    p: &Param,
    scalars: &mut ScalarInputs,
) -> (Value, Vec<StateUpdate>) {
    let mut param = p.value.clone();
    let mut g = if c.maximize { -&p.grad } else { p.grad.clone() };
    if c.weight_decay != 0.0 {
        if decoupled {
            // param.mul_(1 - lr * weight_decay)
            param = &param * &scalars.get(WEIGHT_DECAY_FACTOR, &param);
        } else {
            // grad.add(param, alpha=weight_decay)
            g = &g + &(c.weight_decay * &param);
        }
    }
    let (m, v) = (p.state(StateSlot::ExpAvg), p.state(StateSlot::ExpAvgSq));
    // exp_avg.lerp_(grad, 1 - beta1)
    let new_m = lerp(&m, &g, 1.0 - c.beta1);
    // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    let new_v = &(&v * c.beta2) + &(&((1.0 - c.beta2) * &g) * &g);
    // denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    let bc2_sqrt = scalars.get(BIAS_CORRECTION2_SQRT, &param);
    let denom = &(&ops::sqrt(&new_v) / &bc2_sqrt) + c.eps;
    // param.addcdiv_(exp_avg, denom, value=-step_size)
    let step_size = scalars.get(STEP_SIZE, &param);
    let new_param = &param - &(&(&step_size * &new_m) / &denom);
    let state = vec![
        StateUpdate {
            slot: StateSlot::ExpAvg,
            name: StateSlot::ExpAvg.weight_name(&p.name),
            value: m,
            new_value: new_m,
        },
        StateUpdate {
            slot: StateSlot::ExpAvgSq,
            name: StateSlot::ExpAvgSq.weight_name(&p.name),
            value: v,
            new_value: new_v,
        },
    ];
    (new_param, state)
}

/// The per-step scalars of update `step` (1-based) at learning rate `lr`,
/// computed in f64 with Python's float operations.
pub(crate) fn step_scalars(c: &AdamConfig, decoupled: bool, step: u64, lr: f64) -> Vec<(&'static str, f64)> {
    // PyTorch's step is a float tensor; `beta1**step` is Python float pow.
    let t = step as f64;
    let bias_correction1 = 1.0 - c.beta1.powf(t);
    let bias_correction2 = 1.0 - c.beta2.powf(t);
    let step_size = lr / bias_correction1;
    let bias_correction2_sqrt = bias_correction2.powf(0.5);
    let mut out = vec![(STEP_SIZE, step_size), (BIAS_CORRECTION2_SQRT, bias_correction2_sqrt)];
    if decoupled && c.weight_decay != 0.0 {
        out.push((WEIGHT_DECAY_FACTOR, 1.0 - lr * c.weight_decay));
    }
    out
}
