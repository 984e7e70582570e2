//! `torch.optim.SGD` as IR, following `_single_tensor_sgd` operation by
//! operation:
//!
//! ```text
//! g = -grad if maximize else grad
//! g = g + weight_decay * p                       (if weight_decay != 0)
//! buf = g                                        (first step)
//! buf = momentum * buf + (1 - dampening) * g     (later steps)
//! g = g + momentum * buf if nesterov else buf    (if momentum != 0)
//! p = p - lr * g
//! ```
//!
//! PyTorch's first step sets the buffer to the gradient instead of
//! dampening it. One graph serves both cases through two per-step scalars:
//! `buf = buf * momentum_buffer_decay + g * momentum_grad_weight`, with
//! `(0, 1)` on step 1 (so `buf = g` exactly, whatever the buffer held) and
//! `(momentum, 1 - dampening)` after.

use super::config::SgdConfig;
use super::state::{Param, ScalarInputs, StateSlot, StateUpdate};
use crate::graph::Value;

/// Input `optimizer.lr`: the scheduled learning rate of this step.
pub const LR: &str = "optimizer.lr";
/// Input `optimizer.momentum_buffer_decay`: 0 on step 1, then `momentum`.
pub const MOMENTUM_BUFFER_DECAY: &str = "optimizer.momentum_buffer_decay";
/// Input `optimizer.momentum_grad_weight`: 1 on step 1, then `1 - dampening`.
pub const MOMENTUM_GRAD_WEIGHT: &str = "optimizer.momentum_grad_weight";

/// Appends one parameter's SGD update; returns the new parameter and state.
pub(crate) fn update(c: &SgdConfig, p: &Param, scalars: &mut ScalarInputs) -> (Value, Vec<StateUpdate>) {
    let param = &p.value;
    let mut g = if c.maximize { -&p.grad } else { p.grad.clone() };
    if c.weight_decay != 0.0 {
        // grad.add(param, alpha=weight_decay)
        g = &g + &(c.weight_decay * param);
    }
    let mut state = Vec::new();
    if c.momentum != 0.0 {
        let buf = p.state(StateSlot::MomentumBuffer);
        let decay = scalars.get(MOMENTUM_BUFFER_DECAY, param);
        let weight = scalars.get(MOMENTUM_GRAD_WEIGHT, param);
        // buf.mul_(momentum).add_(grad, alpha=1 - dampening)
        let new_buf = &(&buf * &decay) + &(&weight * &g);
        g = if c.nesterov { &g + &(c.momentum * &new_buf) } else { new_buf.clone() };
        let name = StateSlot::MomentumBuffer.weight_name(&p.name);
        state.push(StateUpdate { slot: StateSlot::MomentumBuffer, name, value: buf, new_value: new_buf });
    }
    let lr = scalars.get(LR, param);
    // param.add_(grad, alpha=-lr)
    let new_param = param - &(&lr * &g);
    (new_param, state)
}

/// The per-step scalars of update `step` (1-based) at learning rate `lr`.
pub(crate) fn step_scalars(c: &SgdConfig, step: u64, lr: f64) -> Vec<(&'static str, f64)> {
    let mut out = vec![(LR, lr)];
    if c.momentum != 0.0 {
        let (decay, weight) = if step == 1 { (0.0, 1.0) } else { (c.momentum, 1.0 - c.dampening) };
        out.push((MOMENTUM_BUFFER_DECAY, decay));
        out.push((MOMENTUM_GRAD_WEIGHT, weight));
    }
    out
}
