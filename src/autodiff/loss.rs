//! Losses, as builder ops composed of existing ops (so autodiff's rules
//! differentiate them with nothing special). They live beside autodiff
//! because training is their only user; each returns an f32/f64 scalar of
//! shape `[]` and records the caller's line on every node it adds.

use crate::graph::{ops, Dim, Graph, ShapeError, Value};

/// The sum of every element, shape `[]`.
#[track_caller]
fn sum_all(x: &Value) -> Value {
    let flat = ops::reshape(x, [Dim::product(&x.shape())]);
    ops::sum(&flat, 0, false)
}

/// `torch.nn.functional.cross_entropy(logits, labels, ignore_index=i)` with
/// the default mean reduction: `logits` is `[..., C]` (float), `labels` the
/// leading shape `[...]` of class indices (any integer dtype).
///
/// - Computed stably: `log_softmax = (x - max) - log(sum(exp(x - max)))`.
/// - The target's log-probability is picked with a one-hot `where` (not a
///   product), so `-inf` logits of other classes stay harmless.
/// - `ignore_index`: positions whose label equals it count neither in the
///   sum nor in the mean's denominator. PyTorch's default is `Some(-100)`.
///   When every position is ignored the result is `0 / 0 = NaN`, exactly
///   as PyTorch returns.
/// - A label outside `0..C` that is not ignored contributes 0 to the sum
///   but still counts in the mean (PyTorch raises an error instead).
#[track_caller]
pub fn cross_entropy(logits: &Value, labels: &Value, ignore_index: Option<i64>) -> Value {
    let (lt, yt) = (logits.shape(), labels.shape());
    if logits.ty().is_some() && labels.ty().is_some() {
        if !labels.dtype().is_int() {
            return Graph::build("cross_entropy", &[logits, labels], |_| {
                Err(ShapeError::DTypeClass {
                    operand: "the labels",
                    expected: "an integer tensor",
                    got: labels.dtype(),
                })
            });
        }
        if lt.is_empty() || yt[..] != lt[..lt.len() - 1] {
            let expected = lt[..lt.len().saturating_sub(1)].to_vec();
            return Graph::build("cross_entropy", &[logits, labels], |_| {
                Err(ShapeError::OperandShape { operand: "the labels", expected, got: yt.clone() })
            });
        }
    }
    let graph = logits.graph();
    let dtype = logits.dtype();
    let shifted = logits - &ops::max(logits, -1, true);
    let log_sum = ops::log(&ops::sum(&ops::exp(&shifted), -1, true));
    let log_probs = &shifted - &log_sum;
    let classes = ops::range(graph, 0, 1, lt.last().cloned().unwrap_or_else(|| Dim::new(1)), labels.dtype());
    let target = ops::eq(&ops::unsqueeze(labels, -1), &classes);
    let zero = ops::scalar(graph, 0.0, dtype);
    let picked = ops::sum(&ops::select(&target, &log_probs, &zero), -1, false);
    let (total, count) = match ignore_index {
        Some(ignored) => {
            let kept = ops::ne(labels, &ops::scalar(graph, ignored as f64, labels.dtype()));
            (sum_all(&ops::select(&kept, &picked, &zero)), sum_all(&ops::cast(&kept, dtype)))
        }
        None => (sum_all(&picked), sum_all(&ops::expand(&ops::scalar(graph, 1.0, dtype), yt))),
    };
    -(&total / &count)
}

/// `torch.nn.functional.mse_loss(a, b)` (mean reduction): the mean of
/// `(a - b)^2` over every element of the broadcast shape.
#[track_caller]
pub fn mse_loss(a: &Value, b: &Value) -> Value {
    let d = a - b;
    let sq = &d * &d;
    let flat = ops::reshape(&sq, [Dim::product(&sq.shape())]);
    ops::mean(&flat, 0, false)
}
