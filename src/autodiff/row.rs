//! Gradients of the row ops: the norms (whose input gradients are row ops
//! of their own, recomputing the statistics from `x`), softmax, the
//! reductions and the scans.

use super::unbroadcast::unbroadcast;
use super::vjp::Vjp;
use crate::graph::{ops, Dim, ReduceOp, RowOp, Tensor, Value};

/// The rules of the row ops: one arm per [`RowOp`].
pub(crate) fn row_vjp(r: &RowOp, c: &Vjp<'_>) -> Vec<Option<Value>> {
    let (xs, g) = (c.xs, c.g);
    match r {
        RowOp::LayerNorm { eps } => layer_norm_vjp(&xs[0], &xs[1], g, *eps, c),
        RowOp::RmsNorm { eps } => rms_norm_vjp(&xs[0], &xs[1], g, *eps, c),
        RowOp::LayerNormGrad { eps } => norm_grad_vjp(&xs[0], &xs[1], &xs[2], g, *eps, false, c),
        RowOp::RmsNormGrad { eps } => norm_grad_vjp(&xs[0], &xs[1], &xs[2], g, *eps, true, c),
        RowOp::Softmax { axis } => {
            // y * (g - sum(g * y)) along the softmax axis.
            let y = c.y;
            let dot = ops::sum(&(g * y), *axis as isize, true);
            vec![c.only(0, || y * &(g - &dot))]
        }
        RowOp::Reduce { op, axis, keep_dim } => {
            vec![c.only(0, || reduce_vjp(*op, &xs[0], c.y, g, *axis, *keep_dim))]
        }
        // An index: piecewise constant, no gradient.
        RowOp::ArgMax { .. } => vec![None],
        // x_i reaches y_j for every j >= i: the gradient is the reversed
        // running sum of g, `sum(g) - cumsum(g) + g`.
        RowOp::Cumsum { axis } => {
            let total = ops::sum(g, *axis as isize, true);
            vec![c.only(0, || &(&total - &ops::cumsum(g, *axis as isize)) + g)]
        }
    }
}

/// LayerNorm over the last axis, `y = xhat * gamma + beta` with
/// `xhat = (x - mean) * rstd`: `gbeta = sum g`, `ggamma = sum g * xhat`
/// (over every leading axis), and `gx` one [`ops::layer_norm_grad`] row
/// op (`rstd * (h - mean(h) - xhat * mean(h * xhat))`, `h = g * gamma`).
fn layer_norm_vjp(x: &Value, gamma: &Value, g: &Value, eps: f64, c: &Vjp<'_>) -> Vec<Option<Value>> {
    let param = gamma.shape();
    vec![
        c.only(0, || ops::layer_norm_grad(x, g, gamma, eps)),
        c.only(1, || unbroadcast(&(g * &normalised(x, eps, false)), &param)),
        c.only(2, || unbroadcast(g, &param)),
    ]
}

/// RMSNorm over the last axis, `y = x * r * gamma` with
/// `r = rsqrt(mean(x^2) + eps)`: `ggamma = sum g * x * r`, and `gx` one
/// [`ops::rms_norm_grad`] row op (`r * (h - xhat * mean(h * xhat))`,
/// `h = g * gamma`, `xhat = x * r`).
fn rms_norm_vjp(x: &Value, gamma: &Value, g: &Value, eps: f64, c: &Vjp<'_>) -> Vec<Option<Value>> {
    vec![
        c.only(0, || ops::rms_norm_grad(x, g, gamma, eps)),
        c.only(1, || unbroadcast(&(g * &normalised(x, eps, true)), &gamma.shape())),
    ]
}

/// `x` normalised over its last axis without the affine part (`xhat`):
/// the norm's own row op over constant ones (and zeros) when the axis
/// length is static, else its statistics composed.
fn normalised(x: &Value, eps: f64, rms: bool) -> Value {
    let n = x.shape().last().and_then(Dim::as_static);
    let filled = |v: f64, n: usize| Tensor::from_f64(x.dtype(), [n], &vec![v; n]).ok();
    match n.and_then(|n| Some((filled(1.0, n)?, filled(0.0, n)?))) {
        Some((ones, zeros)) => {
            let ones = ops::constant(x.graph(), ones);
            match rms {
                true => ops::rms_norm(x, &ones, eps),
                false => ops::layer_norm(x, &ones, &ops::constant(x.graph(), zeros), eps),
            }
        }
        None => Stats::of(x, eps, rms).xhat,
    }
}

/// A row's normalising statistics, composed: `r` (rstd; RMSNorm's
/// `rsqrt(mean(x^2) + eps)`) and `xhat` (the centred, or for RMSNorm the
/// plain, `x` times `r`).
struct Stats {
    r: Value,
    xhat: Value,
}

impl Stats {
    fn of(x: &Value, eps: f64, rms: bool) -> Stats {
        let centred = if rms { x.clone() } else { x - &ops::mean(x, -1, true) };
        let r = ops::rsqrt(&(&ops::mean(&(&centred * &centred), -1, true) + eps));
        Stats { xhat: &centred * &r, r }
    }
}

/// The gradient of the norms' input gradients (double backward), with
/// `G = dy * gamma` and the output's gradient `k`, over the last axis
/// (bars are row means; RMSNorm drops them): the op is
/// `r * P(G)` with `P(v) = v - vbar - xhat * mean(v * xhat)` symmetric, so
/// `gdy = gamma * r * P(k)` and `ggamma = sum dy * r * P(k)`; and with
/// `m = mean(G * xhat)`, `a = mean(k * xhat)`, `C = mean(k * G) - kbar * Gbar`,
/// `gx = -r^2 * ((C - 3 m a) * xhat + a * (G - Gbar) + m * (k - kbar))`.
fn norm_grad_vjp(
    x: &Value,
    dy: &Value,
    gamma: &Value,
    k: &Value,
    eps: f64,
    rms: bool,
    c: &Vjp<'_>,
) -> Vec<Option<Value>> {
    let Stats { r, xhat } = Stats::of(x, eps, rms);
    let mean = |v: &Value| ops::mean(v, -1, true);
    let centre = |v: &Value| if rms { v.clone() } else { v - &mean(v) };
    let projected_k = || &r * &(&centre(k) - &(&xhat * &mean(&(k * &xhat))));
    vec![
        c.only(0, || {
            let big_g = dy * gamma;
            let (m, a) = (mean(&(&big_g * &xhat)), mean(&(k * &xhat)));
            let kg = mean(&(k * &big_g));
            let cross = if rms { kg } else { &kg - &(&mean(k) * &mean(&big_g)) };
            let inner = &(&(&(&cross - &(&(&m * &a) * 3.0)) * &xhat) + &(&a * &centre(&big_g))) + &(&m * &centre(k));
            &(&(&r * &r) * &inner) * -1.0
        }),
        c.only(1, || gamma * &projected_k()),
        c.only(2, || unbroadcast(&(dy * &projected_k()), &gamma.shape())),
    ]
}

/// Reductions spread the gradient back along the reduced axis: `sum`
/// copies it, `mean` divides it by the axis length, and `max`/`min`
/// (PyTorch's `amax`/`amin`) give it to the extrema, split evenly among
/// ties: `where(x == y, g / count(x == y), 0)`.
pub(crate) fn reduce_vjp(op: ReduceOp, x: &Value, y: &Value, g: &Value, axis: usize, keep_dim: bool) -> Value {
    let restore = |v: &Value| if keep_dim { v.clone() } else { ops::unsqueeze(v, axis as isize) };
    let shape = x.shape();
    let g = restore(g);
    match op {
        ReduceOp::Sum => ops::expand(&g, shape),
        ReduceOp::Mean => {
            let spread = ops::expand(&g, shape.clone());
            match shape[axis].as_static() {
                Some(n) => &spread * (1.0 / n as f64),
                // A symbolic axis length, counted at run time.
                None => {
                    let ones = ops::expand(&ops::scalar(g.graph(), 1.0, g.dtype()), shape);
                    &spread / &ops::sum(&ones, axis as isize, true)
                }
            }
        }
        ReduceOp::Max | ReduceOp::Min => {
            let hit = ops::eq(x, &restore(y));
            let count = ops::sum(&ops::cast(&hit, g.dtype()), axis as isize, true);
            ops::select(&hit, &(&g / &count), &ops::scalar(g.graph(), 0.0, g.dtype()))
        }
    }
}
