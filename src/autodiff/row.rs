//! Gradients of the row ops: the two norms and the reductions. The norms
//! recompute their statistics from `x` (simple compositions; the compiler
//! merges the repeats with the forward pass where it can).

use super::unbroadcast::unbroadcast;
use super::vjp::Vjp;
use crate::graph::{ops, ReduceOp, RowOp, Value};

/// The rules of the row ops: one arm per [`RowOp`].
pub(crate) fn row_vjp(r: &RowOp, c: &Vjp<'_>) -> Vec<Option<Value>> {
    let (xs, g) = (c.xs, c.g);
    match r {
        RowOp::LayerNorm { eps } => layer_norm_vjp(&xs[0], &xs[1], g, *eps, c),
        RowOp::RmsNorm { eps } => rms_norm_vjp(&xs[0], &xs[1], g, *eps, c),
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
/// (over every leading axis), and with `h = g * gamma`,
/// `gx = rstd * (h - mean(h) - xhat * mean(h * xhat))`.
fn layer_norm_vjp(x: &Value, gamma: &Value, g: &Value, eps: f64, c: &Vjp<'_>) -> Vec<Option<Value>> {
    let param = gamma.shape();
    let stats = (c.want(0) || c.want(1)).then(|| {
        let centred = x - &ops::mean(x, -1, true);
        let var = ops::mean(&(&centred * &centred), -1, true);
        let rstd = ops::rsqrt(&(&var + eps));
        let xhat = &centred * &rstd;
        (rstd, xhat)
    });
    let Some((rstd, xhat)) = stats else {
        return vec![None, None, c.only(2, || unbroadcast(g, &param))];
    };
    vec![
        c.only(0, || {
            let h = g * gamma;
            let centred = &h - &ops::mean(&h, -1, true);
            &rstd * &(&centred - &(&xhat * &ops::mean(&(&h * &xhat), -1, true)))
        }),
        c.only(1, || unbroadcast(&(g * &xhat), &param)),
        c.only(2, || unbroadcast(g, &param)),
    ]
}

/// RMSNorm over the last axis, `y = x * r * gamma` with
/// `r = rsqrt(mean(x^2) + eps)`: `ggamma = sum g * x * r` and, with
/// `h = g * gamma`, `gx = r * (h - xhat * mean(h * xhat))`, `xhat = x * r`.
fn rms_norm_vjp(x: &Value, gamma: &Value, g: &Value, eps: f64, c: &Vjp<'_>) -> Vec<Option<Value>> {
    let r = ops::rsqrt(&(&ops::mean(&(x * x), -1, true) + eps));
    let xhat = x * &r;
    vec![
        c.only(0, || {
            let h = g * gamma;
            &r * &(&h - &(&xhat * &ops::mean(&(&h * &xhat), -1, true)))
        }),
        c.only(1, || unbroadcast(&(g * &xhat), &gamma.shape())),
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
