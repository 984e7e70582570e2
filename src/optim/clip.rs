//! Global-norm gradient clipping as IR: `torch.nn.utils.clip_grad_norm_`
//! with `norm_type=2`.
//!
//! ```text
//! total_norm = || [ ||g_1||_2, ||g_2||_2, ... ] ||_2    (= || concat(g_1, g_2, ...) ||_2)
//! clip_coef = max_norm / (total_norm + 1e-6)
//! g_i = g_i * clamp(clip_coef, max=1.0)
//! ```
//!
//! The gradients are always multiplied (by exactly 1.0 when the norm is
//! within bounds), as PyTorch does to avoid a host synchronisation. The
//! clamp is a `select`, so a NaN norm propagates into the gradients as
//! `torch.clamp` propagates it (a `min` would drop it).

use super::error::OptimError;
use super::state::describe;
use crate::graph::{ops, Dim, SourceLoc, Value};

/// The clipped gradients and the norm they had before clipping.
#[derive(Debug, Clone)]
pub struct Clipped {
    /// The gradients, each multiplied by the clip coefficient, in the order given.
    pub grads: Vec<Value>,
    /// The global 2-norm of the gradients before clipping, shape `[]` (what
    /// `clip_grad_norm_` returns, and the doctor reports).
    pub total_norm: Value,
}

/// The 2-norm of every element of `x`, shape `[]`.
#[track_caller]
fn norm2(x: &Value) -> Value {
    let flat = ops::reshape(x, [Dim::product(&x.shape())]);
    ops::sqrt(&ops::sum(&(&flat * &flat), 0, false))
}

/// The global 2-norm of `grads`, shape `[]`, in the first gradient's dtype
/// (other dtypes are cast to it): `torch.nn.utils.get_total_norm`'s value,
/// the 2-norm of the per-tensor 2-norms, taken as the 2-norm of every
/// gradient's elements in one vector. The two are equal up to rounding, and
/// one reduction over all parameters is a few kernels where a norm per
/// parameter is one kernel each.
#[track_caller]
pub fn global_norm(grads: &[Value]) -> Result<Value, OptimError> {
    let first = grads.first().ok_or(OptimError::NoParameters)?;
    let graph = first.graph().clone();
    graph.errors_as_result()?;
    for g in grads {
        if !graph.same(g.graph()) {
            return Err(OptimError::ForeignValue { value: describe(g), graph: graph.name(), other: g.graph().name() });
        }
        if !g.dtype().is_float() {
            return Err(OptimError::GradientNotFloat { value: describe(g), dtype: g.dtype() });
        }
    }
    let dtype = first.dtype();
    let location = SourceLoc::caller();
    let total = graph.with_location(location, || {
        let flat: Vec<Value> = grads
            .iter()
            .map(|g| {
                let f = ops::reshape(g, [Dim::product(&g.shape())]);
                if g.dtype() == dtype {
                    f
                } else {
                    ops::cast(&f, dtype)
                }
            })
            .collect();
        norm2(&ops::concat(&flat.iter().collect::<Vec<_>>(), 0))
    });
    graph.errors_as_result()?;
    Ok(total)
}

/// `torch.nn.utils.clip_grad_norm_(params, max_norm)` (2-norm): appends the
/// global norm and the scaled gradients. `max_norm` must be finite and >= 0.
#[track_caller]
pub fn clip_grad_norm(grads: &[Value], max_norm: f64) -> Result<Clipped, OptimError> {
    if !(max_norm.is_finite() && max_norm >= 0.0) {
        return Err(OptimError::InvalidHyperparameter { name: "max_norm", value: max_norm, expected: "finite, >= 0" });
    }
    let total_norm = global_norm(grads)?;
    let graph = total_norm.graph().clone();
    let grads = graph.with_location(SourceLoc::caller(), || scale(grads, &total_norm, max_norm));
    graph.errors_as_result()?;
    Ok(Clipped { grads, total_norm: total_norm.named("optimizer.total_norm") })
}

/// Each gradient times `clamp(max_norm / (total_norm + 1e-6), max=1)`.
fn scale(grads: &[Value], total_norm: &Value, max_norm: f64) -> Vec<Value> {
    let (graph, dtype) = (total_norm.graph(), total_norm.dtype());
    // clip_coef = max_norm / (total_norm + 1e-6); torch.clamp(clip_coef, max=1.0)
    let coef = max_norm / &(total_norm + 1e-6);
    let one = ops::scalar(graph, 1.0, dtype);
    let clamped = ops::select(&ops::gt(&coef, &one), &one, &coef);
    grads
        .iter()
        .map(|g| {
            let c = if g.dtype() == dtype { clamped.clone() } else { ops::cast(&clamped, g.dtype()) };
            g * &c
        })
        .collect()
}
