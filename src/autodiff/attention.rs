//! The gradient of fused attention, by decomposition: the scores and
//! probabilities are recomputed from the operands with the primitive ops
//! and differentiated as those ops would be. (The compiler fuses attention
//! only after autodiff, and only when nothing else reads the
//! probabilities, so a training graph never holds this op unless a test
//! builds it directly; correctness beats frugality here.)

use super::vjp::Vjp;
use crate::graph::{ops, DType, Value};

/// Gradients of `q`, `k`, `v` (the bool mask has none) for
/// `y = softmax(mask(q k^T * scale)) v`.
pub(crate) fn attention_vjp(c: &Vjp<'_>, scale: Option<f64>, rows_first: bool) -> Vec<Option<Value>> {
    let xs = c.xs;
    // The cotangent in the `[.., q_len, dv]` layout the rest assumes.
    let g = &if rows_first { ops::transpose(c.g, -3, -2) } else { c.g.clone() };
    let (q, k, v) = (&xs[0], &xs[1], &xs[2]);
    let kt = ops::transpose(k, -1, -2);
    let mut scores = ops::matmul(q, &kt);
    if let Some(s) = scale {
        scores = scores * s;
    }
    if let Some(mask) = xs.get(3) {
        let lowest = ops::scalar(q.graph(), f32::MIN as f64, q.dtype());
        scores = ops::select(mask, &scores, &lowest);
    }
    let p = ops::softmax(&scores, -1);
    // Softmax backward: p * (dp - sum(dp * p)) along the keys.
    let dp = ops::matmul(g, &ops::transpose(v, -1, -2));
    let dot = ops::sum(&(&dp * &p), -1, true);
    let mut ds = &p * &(&dp - &dot);
    // Masked scores were replaced by a constant: no gradient reaches them.
    if let Some(mask) = xs.get(3) {
        let zero = ops::scalar(q.graph(), 0.0, g.dtype());
        ds = ops::select(mask, &ds, &zero);
    }
    if let Some(s) = scale {
        ds = ds * s;
    }
    let mut grads = vec![
        c.only(0, || ops::matmul(&ds, k)),
        c.only(1, || ops::matmul(&ops::transpose(&ds, -1, -2), q)),
        c.only(2, || ops::matmul(&ops::transpose(&p, -1, -2), g)),
    ];
    if xs.len() > 3 {
        debug_assert_eq!(xs[3].dtype(), DType::Bool);
        grads.push(None);
    }
    grads
}
