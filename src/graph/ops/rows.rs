//! Normalisation and reductions along one axis.

use super::*;

/// LayerNorm over the last axis (biased variance, as PyTorch); `gamma` and
/// `beta` have the last axis's size.
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let h = g.input("h", DType::F32, [Dim::sym("seq"), Dim::new(768)]);
/// let (gamma, beta) = (g.weight("ln.weight", DType::F32, [768usize]), g.weight("ln.bias", DType::F32, [768usize]));
/// assert_eq!(ops::layer_norm(&h, &gamma, &beta, 1e-12).shape(), h.shape());
/// ```
#[track_caller]
pub fn layer_norm(x: &Value, gamma: &Value, beta: &Value, eps: f64) -> Value {
    Graph::build("layer_norm", &[x, gamma, beta], |_| Ok(Op::Row(RowOp::LayerNorm { eps })))
}

/// RMSNorm over the last axis: `x * rsqrt(mean(x^2) + eps) * gamma` (LLaMA).
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let h = g.input("h", DType::F32, [Dim::sym("seq"), Dim::new(768)]);
/// let gamma = g.weight("model.norm.weight", DType::F32, [768usize]);
/// assert_eq!(ops::rms_norm(&h, &gamma, 1e-6).shape(), h.shape());
/// ```
#[track_caller]
pub fn rms_norm(x: &Value, gamma: &Value, eps: f64) -> Value {
    Graph::build("rms_norm", &[x, gamma], |_| Ok(Op::Row(RowOp::RmsNorm { eps })))
}

/// The gradient of [`layer_norm`] with respect to `x`, given the output's
/// gradient `dy` (what reverse mode builds; one row kernel instead of the
/// dozen ops of its formula): with `h = dy * gamma` and `xhat` the
/// normalised `x`, `rstd * (h - mean(h) - xhat * mean(h * xhat))` over
/// the last axis.
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, [Dim::sym("seq"), Dim::new(64)]);
/// let dy = g.input("dy", DType::F32, [Dim::sym("seq"), Dim::new(64)]);
/// let gamma = g.weight("ln.weight", DType::F32, [64usize]);
/// assert_eq!(ops::layer_norm_grad(&x, &dy, &gamma, 1e-5).shape(), x.shape());
/// ```
#[track_caller]
pub fn layer_norm_grad(x: &Value, dy: &Value, gamma: &Value, eps: f64) -> Value {
    Graph::build("layer_norm_grad", &[x, dy, gamma], |_| Ok(Op::Row(RowOp::LayerNormGrad { eps })))
}

/// The gradient of [`rms_norm`] with respect to `x`, given the output's
/// gradient `dy`: with `h = dy * gamma`, `r = rsqrt(mean(x^2) + eps)` and
/// `xhat = x * r`, `r * (h - xhat * mean(h * xhat))` over the last axis.
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, [Dim::sym("seq"), Dim::new(64)]);
/// let dy = g.input("dy", DType::F32, [Dim::sym("seq"), Dim::new(64)]);
/// let gamma = g.weight("norm.weight", DType::F32, [64usize]);
/// assert_eq!(ops::rms_norm_grad(&x, &dy, &gamma, 1e-6).shape(), x.shape());
/// ```
#[track_caller]
pub fn rms_norm_grad(x: &Value, dy: &Value, gamma: &Value, eps: f64) -> Value {
    Graph::build("rms_norm_grad", &[x, dy, gamma], |_| Ok(Op::Row(RowOp::RmsNormGrad { eps })))
}

/// `exp(x - max) / sum(exp(x - max))` along `axis`, floats only.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let scores = g.input("scores", DType::F32, ["batch", "heads", "seq", "seq"]);
/// assert_eq!(ops::softmax(&scores, -1).shape(), scores.shape());
/// ```
#[track_caller]
pub fn softmax(x: &Value, axis: isize) -> Value {
    Graph::build("softmax", &[x], |t| Ok(Op::Row(RowOp::Softmax { axis: resolve_axis(axis, t[0].rank())? })))
}

#[track_caller]
fn reduce(op: ReduceOp, x: &Value, axis: isize, keep_dim: bool) -> Value {
    let probe = Op::Row(RowOp::Reduce { op, axis: 0, keep_dim });
    Graph::build(probe.name(), &[x], |t| {
        Ok(Op::Row(RowOp::Reduce { op, axis: resolve_axis(axis, t[0].rank())?, keep_dim }))
    })
}

/// The sum along `axis`, floats or integers; `keep_dim` keeps the axis with size 1
/// (PyTorch's `keepdim`).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq", "d"]);
/// assert_eq!(format!("{:?}", ops::sum(&x, 1, false).shape()), "[batch, d]");
/// ```
#[track_caller]
pub fn sum(x: &Value, axis: isize, keep_dim: bool) -> Value {
    reduce(ReduceOp::Sum, x, axis, keep_dim)
}

/// The mean along `axis`, floats only; `keep_dim` keeps the axis with size 1
/// (PyTorch's `keepdim`) (mean pooling).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq", "d"]);
/// assert_eq!(format!("{:?}", ops::mean(&x, -1, true).shape()), "[batch, seq, 1]");
/// ```
#[track_caller]
pub fn mean(x: &Value, axis: isize, keep_dim: bool) -> Value {
    reduce(ReduceOp::Mean, x, axis, keep_dim)
}

/// The largest element along `axis`; `keep_dim` keeps the axis with size 1
/// (PyTorch's `keepdim`).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq", "d"]);
/// assert_eq!(format!("{:?}", ops::max(&x, 0, false).shape()), "[seq, d]");
/// ```
#[track_caller]
pub fn max(x: &Value, axis: isize, keep_dim: bool) -> Value {
    reduce(ReduceOp::Max, x, axis, keep_dim)
}

/// The smallest element along `axis`; `keep_dim` keeps the axis with size 1
/// (PyTorch's `keepdim`).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq", "d"]);
/// assert_eq!(format!("{:?}", ops::min(&x, -1, false).shape()), "[batch, seq]");
/// ```
#[track_caller]
pub fn min(x: &Value, axis: isize, keep_dim: bool) -> Value {
    reduce(ReduceOp::Min, x, axis, keep_dim)
}

/// Index (i64) of the first maximum along `axis` (greedy decoding).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let logits = g.input("logits", DType::F32, ["batch", "vocab"]);
/// let next = ops::argmax(&logits, -1, false);
/// assert_eq!((format!("{:?}", next.shape()), next.dtype()), ("[batch]".to_string(), DType::I64));
/// ```
#[track_caller]
pub fn argmax(x: &Value, axis: isize, keep_dim: bool) -> Value {
    Graph::build("argmax", &[x], |t| Ok(Op::Row(RowOp::ArgMax { axis: resolve_axis(axis, t[0].rank())?, keep_dim })))
}

/// Inclusive running sum along `axis` (`torch.cumsum`): element `i` is the
/// sum of elements `0..=i`. Float or integer.
///
/// ```
/// use wgraph::{ops, DType, Graph};
/// let g = Graph::new("running");
/// let x = g.input("x", DType::F32, [2usize, 5]);
/// assert_eq!(ops::cumsum(&x, -1).shape(), x.shape());
/// ```
#[track_caller]
pub fn cumsum(x: &Value, axis: isize) -> Value {
    Graph::build("cumsum", &[x], |t| Ok(Op::Row(RowOp::Cumsum { axis: resolve_axis(axis, t[0].rank())? })))
}
