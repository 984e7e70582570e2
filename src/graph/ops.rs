//! The op builders. Each checks its operands when called and records any
//! error with the caller's line (see [`Graph`](super::Graph) for how errors
//! flow). Axes may be negative, counting from the end.

use super::axis::resolve_axis;
use super::builder::{Graph, Value};
use super::dim::Dim;
use super::dtype::DType;
use super::error::ShapeError;
use super::op::{BinaryOp, CompareOp, Op, ReduceOp, RowOp, UnaryOp};
use super::tensor::Tensor;

pub use super::op::Gelu;

fn dims(shape: impl IntoIterator<Item = impl Into<Dim>>) -> Vec<Dim> {
    shape.into_iter().map(Into::into).collect()
}

// ---- sources -------------------------------------------------------------

/// Embeds a literal tensor.
#[track_caller]
pub fn constant(g: &Graph, value: Tensor) -> Value {
    g.constant(value)
}

/// A rank-0 constant of `dtype`.
#[track_caller]
pub fn scalar(g: &Graph, value: f64, dtype: DType) -> Value {
    g.constant(Tensor::from_f64_unchecked(dtype, Vec::new(), &[value]))
}

/// `[start, start+step, ...]`, `len` elements of `dtype` (position ids).
#[track_caller]
pub fn range(g: &Graph, start: i64, step: i64, len: impl Into<Dim>, dtype: DType) -> Value {
    g.build_source(Op::Range { start, step, len: len.into(), dtype })
}

/// A bool `[rows, cols]` band mask, true where attention is allowed: query
/// row `i` (at key position `i + cols - rows`) sees keys at most `before`
/// positions back and `after` positions ahead (`None` = unbounded).
#[track_caller]
pub fn band_mask(
    g: &Graph,
    rows: impl Into<Dim>,
    cols: impl Into<Dim>,
    before: Option<usize>,
    after: Option<usize>,
) -> Value {
    g.build_source(Op::BandMask { rows: rows.into(), cols: cols.into(), before, after })
}

/// The causal mask: each query sees itself and every earlier key. With a KV
/// cache, `rows` is the new tokens and `cols` all tokens.
#[track_caller]
pub fn causal_mask(g: &Graph, rows: impl Into<Dim>, cols: impl Into<Dim>) -> Value {
    band_mask(g, rows, cols, None, Some(0))
}

// ---- elementwise -----------------------------------------------------------

#[track_caller]
fn unary(op: UnaryOp, x: &Value) -> Value {
    Graph::build(Op::Unary(op).name(), &[x], |_| Ok(Op::Unary(op)))
}

macro_rules! unary_ops {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(x: &Value) -> Value {
            unary($op, x)
        }
    )*};
}

unary_ops! {
    neg => UnaryOp::Neg;
    abs => UnaryOp::Abs;
    exp => UnaryOp::Exp;
    log => UnaryOp::Log;
    sqrt => UnaryOp::Sqrt;
    /// `1 / sqrt(x)`.
    rsqrt => UnaryOp::Rsqrt;
    /// `1 / x`.
    recip => UnaryOp::Recip;
    tanh => UnaryOp::Tanh;
    sigmoid => UnaryOp::Sigmoid;
    relu => UnaryOp::Relu;
    /// `x * sigmoid(x)` (HF `silu`, LLaMA's MLP activation).
    silu => UnaryOp::Silu;
    erf => UnaryOp::Erf;
    sin => UnaryOp::Sin;
    cos => UnaryOp::Cos;
    /// Logical not of a bool tensor.
    not => UnaryOp::Not;
}

/// GELU: `Gelu::Erf` is HF `gelu`; `Gelu::Tanh` is `gelu_new` / `gelu_pytorch_tanh`.
#[track_caller]
pub fn gelu(x: &Value, form: Gelu) -> Value {
    unary(UnaryOp::Gelu(form), x)
}

#[track_caller]
fn binary(op: BinaryOp, a: &Value, b: &Value) -> Value {
    Graph::build(Op::Binary(op).name(), &[a, b], |_| Ok(Op::Binary(op)))
}

macro_rules! binary_ops {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(a: &Value, b: &Value) -> Value {
            binary($op, a, b)
        }
    )*};
}

binary_ops! {
    add => BinaryOp::Add;
    sub => BinaryOp::Sub;
    mul => BinaryOp::Mul;
    /// Float division; floor division on integers (Python's `//`).
    div => BinaryOp::Div;
    pow => BinaryOp::Pow;
    maximum => BinaryOp::Max;
    minimum => BinaryOp::Min;
    /// Logical and of bool tensors.
    and => BinaryOp::And;
    /// Logical or of bool tensors.
    or => BinaryOp::Or;
}

#[track_caller]
fn compare(op: CompareOp, a: &Value, b: &Value) -> Value {
    Graph::build(Op::Compare(op).name(), &[a, b], |_| Ok(Op::Compare(op)))
}

macro_rules! compare_ops {
    ($($name:ident => $op:expr;)*) => {$(
        #[track_caller]
        pub fn $name(a: &Value, b: &Value) -> Value {
            compare($op, a, b)
        }
    )*};
}

compare_ops! {
    eq => CompareOp::Eq;
    ne => CompareOp::Ne;
    lt => CompareOp::Lt;
    le => CompareOp::Le;
    gt => CompareOp::Gt;
    ge => CompareOp::Ge;
}

/// `cond ? a : b` elementwise, broadcasting all three.
#[track_caller]
pub fn select(cond: &Value, a: &Value, b: &Value) -> Value {
    Graph::build("where", &[cond, a, b], |_| Ok(Op::Where))
}

#[track_caller]
pub fn cast(x: &Value, dtype: DType) -> Value {
    Graph::build("cast", &[x], |_| Ok(Op::Cast(dtype)))
}

// ---- linear algebra --------------------------------------------------------

/// `[..., m, k] x [..., k, n]`, batch dims broadcast.
#[track_caller]
pub fn matmul(a: &Value, b: &Value) -> Value {
    Graph::build("matmul", &[a, b], |_| Ok(Op::MatMul))
}

/// A PyTorch `nn.Linear`: `x @ w^T + b` with `w` stored `[out, in]`.
#[track_caller]
pub fn linear(x: &Value, w: &Value, b: Option<&Value>) -> Value {
    let y = matmul(x, &transpose(w, -2, -1));
    match b {
        Some(b) => add(&y, b),
        None => y,
    }
}

/// 1-D convolution `[n, c_in, len] * [c_out, c_in/groups, k] (+ bias)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv1dOptions {
    pub stride: usize,
    pub padding: usize,
    pub dilation: usize,
    pub groups: usize,
}

impl Default for Conv1dOptions {
    fn default() -> Self {
        Conv1dOptions { stride: 1, padding: 0, dilation: 1, groups: 1 }
    }
}

#[track_caller]
pub fn conv1d(x: &Value, w: &Value, bias: Option<&Value>, opts: Conv1dOptions) -> Value {
    let op = Op::Conv1d { stride: opts.stride, padding: opts.padding, dilation: opts.dilation, groups: opts.groups };
    match bias {
        Some(b) => Graph::build("conv1d", &[x, w, b], |_| Ok(op)),
        None => Graph::build("conv1d", &[x, w], |_| Ok(op)),
    }
}

// ---- shape -----------------------------------------------------------------

#[track_caller]
pub fn permute(x: &Value, perm: &[usize]) -> Value {
    let perm = perm.to_vec();
    Graph::build("permute", &[x], |_| Ok(Op::Permute { perm }))
}

/// Swaps two axes.
#[track_caller]
pub fn transpose(x: &Value, a: isize, b: isize) -> Value {
    Graph::build("transpose", &[x], |t| {
        let rank = t[0].rank();
        let (a, b) = (resolve_axis(a, rank)?, resolve_axis(b, rank)?);
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(a, b);
        Ok(Op::Permute { perm })
    })
}

#[track_caller]
pub fn reshape(x: &Value, shape: impl IntoIterator<Item = impl Into<Dim>>) -> Value {
    let shape = dims(shape);
    Graph::build("reshape", &[x], |_| Ok(Op::Reshape { shape }))
}

/// Inserts a size-1 axis at `axis` (which may equal the rank).
#[track_caller]
pub fn unsqueeze(x: &Value, axis: isize) -> Value {
    Graph::build("unsqueeze", &[x], |t| {
        let mut shape = t[0].shape.clone();
        let a = resolve_axis(axis, shape.len() + 1)?;
        shape.insert(a, Dim::new(1));
        Ok(Op::Reshape { shape })
    })
}

/// Removes a size-1 axis.
#[track_caller]
pub fn squeeze(x: &Value, axis: isize) -> Value {
    Graph::build("squeeze", &[x], |t| {
        let mut shape = t[0].shape.clone();
        let a = resolve_axis(axis, shape.len())?;
        if shape[a] != Dim::new(1) {
            return Err(ShapeError::Invalid {
                what: "squeeze",
                detail: format!("axis {a} has size {}, not 1", shape[a]),
            });
        }
        shape.remove(a);
        Ok(Op::Reshape { shape })
    })
}

/// Broadcasts to a larger shape.
#[track_caller]
pub fn expand(x: &Value, shape: impl IntoIterator<Item = impl Into<Dim>>) -> Value {
    let shape = dims(shape);
    Graph::build("expand", &[x], |_| Ok(Op::Expand { shape }))
}

/// `numpy.take(data, indices, axis)`; an embedding lookup is `gather(&table, &ids, 0)`.
#[track_caller]
pub fn gather(data: &Value, indices: &Value, axis: isize) -> Value {
    Graph::build("gather", &[data, indices], |t| Ok(Op::Gather { axis: resolve_axis(axis, t[0].rank())? }))
}

/// Elements `start..end` along `axis`.
#[track_caller]
pub fn slice(x: &Value, axis: isize, start: impl Into<Dim>, end: impl Into<Dim>) -> Value {
    slice_step(x, axis, start, end, 1)
}

/// Elements `start, start+step, ... < end` along `axis`.
#[track_caller]
pub fn slice_step(x: &Value, axis: isize, start: impl Into<Dim>, end: impl Into<Dim>, step: usize) -> Value {
    let (start, end) = (start.into(), end.into());
    Graph::build("slice", &[x], |t| Ok(Op::Slice { axis: resolve_axis(axis, t[0].rank())?, start, end, step }))
}

/// `len` elements from `start` along `axis` (PyTorch `narrow`).
#[track_caller]
pub fn narrow(x: &Value, axis: isize, start: impl Into<Dim>, len: impl Into<Dim>) -> Value {
    let start = start.into();
    let end = &start + &len.into();
    slice_step(x, axis, start, end, 1)
}

/// Splits `axis` into consecutive pieces of the given sizes.
#[track_caller]
pub fn split(x: &Value, axis: isize, sizes: &[usize]) -> Vec<Value> {
    let mut start = 0;
    sizes
        .iter()
        .map(|&n| {
            let piece = slice_step(x, axis, start, start + n, 1);
            start += n;
            piece
        })
        .collect()
}

#[track_caller]
pub fn concat(values: &[&Value], axis: isize) -> Value {
    Graph::build("concat", values, |t| Ok(Op::Concat { axis: resolve_axis(axis, t[0].rank())? }))
}

// ---- normalisation and reductions -----------------------------------------

/// LayerNorm over the last axis (biased variance, as PyTorch).
#[track_caller]
pub fn layer_norm(x: &Value, gamma: &Value, beta: &Value, eps: f64) -> Value {
    Graph::build("layer_norm", &[x, gamma, beta], |_| Ok(Op::Row(RowOp::LayerNorm { eps })))
}

/// RMSNorm over the last axis: `x * rsqrt(mean(x^2) + eps) * gamma`.
#[track_caller]
pub fn rms_norm(x: &Value, gamma: &Value, eps: f64) -> Value {
    Graph::build("rms_norm", &[x, gamma], |_| Ok(Op::Row(RowOp::RmsNorm { eps })))
}

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

#[track_caller]
pub fn sum(x: &Value, axis: isize, keep_dim: bool) -> Value {
    reduce(ReduceOp::Sum, x, axis, keep_dim)
}

#[track_caller]
pub fn mean(x: &Value, axis: isize, keep_dim: bool) -> Value {
    reduce(ReduceOp::Mean, x, axis, keep_dim)
}

#[track_caller]
pub fn max(x: &Value, axis: isize, keep_dim: bool) -> Value {
    reduce(ReduceOp::Max, x, axis, keep_dim)
}

#[track_caller]
pub fn min(x: &Value, axis: isize, keep_dim: bool) -> Value {
    reduce(ReduceOp::Min, x, axis, keep_dim)
}

/// Index (i64) of the first maximum along `axis`.
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
