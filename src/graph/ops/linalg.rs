//! Linear algebra: matmul, linear, convolution and attention.

use super::*;

/// `[..., m, k] x [..., k, n]`, batch dims broadcast.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let (q, k) = (g.input("q", DType::F32, ["batch", "seq", "d"]), g.input("k", DType::F32, ["batch", "seq", "d"]));
/// let scores = ops::matmul(&q, &ops::transpose(&k, -2, -1));
/// assert_eq!(format!("{:?}", scores.shape()), "[batch, seq, seq]");
/// ```
#[track_caller]
pub fn matmul(a: &Value, b: &Value) -> Value {
    Graph::build("matmul", &[a, b], |_| Ok(Op::MatMul))
}

/// `softmax(mask(q k^T * scale)) v` over the last axis of the scores in
/// one op ([`Op::Attention`]): `q` `[.., q_len, d]`, `k` `[.., k_len, d]`,
/// `v` `[.., k_len, dv]`, a bool `mask` (true = attend) broadcastable to
/// `[.., q_len, k_len]`. The compiler makes it from the primitive ops
/// itself; building it directly is for tests.
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let q = g.input("q", DType::F32, [Dim::new(2), Dim::sym("seq"), Dim::new(8)]);
/// let kv = g.input("kv", DType::F32, [Dim::new(2), Dim::sym("past"), Dim::new(8)]);
/// let y = ops::attention(&q, &kv, &kv, None, Some(0.125));
/// assert_eq!(format!("{:?}", y.shape()), "[2, seq, 8]");
/// ```
#[track_caller]
pub fn attention(q: &Value, k: &Value, v: &Value, mask: Option<&Value>, scale: Option<f64>) -> Value {
    attention_op(q, k, v, mask, scale, false)
}

/// [`attention`] with the result's query rows before the axis in front of
/// them: `[.., q_len, heads, dv]` for queries `[.., heads, q_len, d]`,
/// what `attention(..).transpose(-3, -2)` gives, without the copy.
#[track_caller]
pub fn attention_rows_first(q: &Value, k: &Value, v: &Value, mask: Option<&Value>, scale: Option<f64>) -> Value {
    attention_op(q, k, v, mask, scale, true)
}

#[track_caller]
fn attention_op(q: &Value, k: &Value, v: &Value, mask: Option<&Value>, scale: Option<f64>, rows_first: bool) -> Value {
    let mut operands = vec![q, k, v];
    operands.extend(mask);
    Graph::build("attention", &operands, |_| Ok(Op::Attention { scale, masked: mask.is_some(), rows_first }))
}

/// A PyTorch `nn.Linear`: `x @ w^T + b` with `w` stored `[out, in]`.
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, [Dim::sym("batch"), Dim::new(768)]);
/// let (w, b) = (g.weight("fc.weight", DType::F32, [3072usize, 768]), g.weight("fc.bias", DType::F32, [3072usize]));
/// assert_eq!(format!("{:?}", ops::linear(&x, &w, Some(&b)).shape()), "[batch, 3072]");
/// ```
#[track_caller]
pub fn linear(x: &Value, w: &Value, b: Option<&Value>) -> Value {
    let y = matmul(x, &transpose(w, -2, -1));
    match b {
        Some(b) => add(&y, b),
        None => y,
    }
}

/// Attributes of [`conv1d`], as PyTorch's `nn.Conv1d` names them; the
/// default is stride 1, no padding, dilation 1, one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv1dOptions {
    /// Step between window starts along the length.
    pub stride: usize,
    /// Zeros added at both ends of the length.
    pub padding: usize,
    /// Spacing between the kernel's taps.
    pub dilation: usize,
    /// Channel groups convolved independently (`c_in` and `c_out` must divide by it).
    pub groups: usize,
}

impl Default for Conv1dOptions {
    fn default() -> Self {
        Conv1dOptions { stride: 1, padding: 0, dilation: 1, groups: 1 }
    }
}

/// 1-D convolution `[n, c_in, len] * [c_out, c_in/groups, k] (+ bias[c_out])`
/// with zero padding, PyTorch's `F.conv1d` (Whisper's audio stem).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # use wgraph::graph::ops::Conv1dOptions;
/// # let g = Graph::new("g");
/// let mel = g.input("input_features", DType::F32, [1usize, 80, 3000]);
/// let w = g.weight("conv2.weight", DType::F32, [384usize, 80, 3]);
/// let y = ops::conv1d(&mel, &w, None, Conv1dOptions { stride: 2, padding: 1, ..Default::default() });
/// assert_eq!(format!("{:?}", y.shape()), "[1, 384, 1500]");
/// ```
#[track_caller]
pub fn conv1d(x: &Value, w: &Value, bias: Option<&Value>, opts: Conv1dOptions) -> Value {
    let op = Op::Conv1d { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups: opts.groups };
    match bias {
        Some(b) => Graph::build("conv1d", &[x, w, b], |_| Ok(op)),
        None => Graph::build("conv1d", &[x, w], |_| Ok(op)),
    }
}
