//! The op builders. Each checks its operands when called and records any
//! error with the caller's line (see [`Graph`] for how errors flow). Axes
//! may be negative, counting from the end.
//!
//! Every op has an example: its own one-liner, or for the elementwise family
//! the shared one below. The examples print shapes with `{:?}`, which shows
//! dims as the dumps do (`[batch, seq, 768]`).
//!
//! # Elementwise
//!
//! Unary functions ([`exp`], [`gelu`], [`not`], ...), binary arithmetic
//! ([`add`], [`div`], [`maximum`], ...; also `+ - * /` and unary `-` on
//! [`Value`]s and `f64`s), comparisons ([`eq`], [`lt`], ...), [`select`] and
//! [`cast`]. Operands broadcast as in numpy (trailing axes aligned, size 1
//! stretched) and share one dtype: there is no implicit promotion, so convert
//! with [`cast`]. The result has the broadcast shape; comparisons give bool.
//!
//! ```
//! use wgraph::{ops, DType, Graph, Interpreter, Tensor, Weights};
//! let g = Graph::new("elementwise");
//! let x = g.input("x", DType::F32, [2usize, 3]);
//! let shift = g.input("shift", DType::F32, [3usize]);
//! let y = ops::relu(&(&x - &shift)) * 2.0; // [2, 3] - [3] broadcasts to [2, 3]
//! let big = ops::gt(&y, &ops::scalar(&g, 3.0, DType::F32));
//! let z = ops::select(&big, &ops::neg(&y), &y);
//! assert_eq!((format!("{:?}", z.shape()), big.dtype()), ("[2, 3]".to_string(), DType::Bool));
//! g.output_named([("z", &z), ("big", &ops::cast(&big, DType::I32))])?;
//! let x = Tensor::new([2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let shift = Tensor::new([3], vec![1.0f32, 1.0, 1.0])?;
//! let out = Interpreter::new().run(&g, &Weights::new(), [("x", x), ("shift", shift)])?;
//! assert_eq!(out.get("z").unwrap().to_f32_vec(), [0.0, 2.0, -4.0, -6.0, -8.0, -10.0]);
//! assert_eq!(out.get("big").unwrap().to_i64_vec(), [0, 0, 1, 1, 1, 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::axis::resolve_axis;
use super::builder::{Graph, Value};
use super::dim::Dim;
use super::dtype::DType;
use super::error::ShapeError;
use super::infer::scatter_rank;
use super::op::{BinaryOp, CompareOp, Op, ReduceOp, RowOp, UnaryOp};
use super::tensor::Tensor;

pub use super::op::Gelu;

fn dims(shape: impl IntoIterator<Item = impl Into<Dim>>) -> Vec<Dim> {
    shape.into_iter().map(Into::into).collect()
}

// ---- sources -------------------------------------------------------------

/// Embeds a literal tensor.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let t = ops::constant(&g, wgraph::Tensor::new([2, 2], vec![1.0f32, 0.0, 0.0, 1.0]).unwrap());
/// assert_eq!(format!("{:?}", t.shape()), "[2, 2]");
/// ```
#[track_caller]
pub fn constant(g: &Graph, value: Tensor) -> Value {
    g.constant(value)
}

/// A rank-0 constant of `dtype`.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let eps = ops::scalar(&g, 1e-5, DType::F32);
/// assert!(eps.shape().is_empty());
/// ```
#[track_caller]
pub fn scalar(g: &Graph, value: f64, dtype: DType) -> Value {
    g.constant(Tensor::from_f64_unchecked(dtype, Vec::new(), &[value]))
}

/// `[start, start+step, ...]`, `len` elements of `dtype` (position ids).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let positions = ops::range(&g, 0, 1, "seq", DType::I64);
/// assert_eq!(format!("{:?}", positions.shape()), "[seq]");
/// ```
#[track_caller]
pub fn range(g: &Graph, start: i64, step: i64, len: impl Into<Dim>, dtype: DType) -> Value {
    g.build_source(Op::Range { start, step, len: len.into(), dtype })
}

/// A bool `[rows, cols]` band mask, true where attention is allowed: query
/// row `i` (at key position `i + cols - rows`) sees keys at most `before`
/// positions back and `after` positions ahead (`None` = unbounded).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let local = ops::band_mask(&g, 4usize, 4usize, Some(2), Some(2)); // a sliding window
/// assert_eq!((format!("{:?}", local.shape()), local.dtype()), ("[4, 4]".into(), DType::Bool));
/// ```
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
///
/// ```
/// # use wgraph::{ops, Dim, Graph};
/// # let g = Graph::new("g");
/// let (seq, past) = (Dim::sym("seq"), Dim::sym("past"));
/// let mask = ops::causal_mask(&g, seq.clone(), &past + &seq); // new tokens x all tokens
/// assert_eq!(format!("{:?}", mask.shape()), "[seq, past + seq]");
/// ```
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
    /// `-x`, integers too (also the `-` operator on values); see the [elementwise example](self#elementwise).
    neg => UnaryOp::Neg;
    /// `|x|`, integers too; see the [elementwise example](self#elementwise).
    abs => UnaryOp::Abs;
    /// `e^x`; see the [elementwise example](self#elementwise).
    exp => UnaryOp::Exp;
    /// The natural logarithm; see the [elementwise example](self#elementwise).
    log => UnaryOp::Log;
    /// The square root; see the [elementwise example](self#elementwise).
    sqrt => UnaryOp::Sqrt;
    /// `1 / sqrt(x)`, one op for the norms that divide by a root; see the [elementwise example](self#elementwise).
    rsqrt => UnaryOp::Rsqrt;
    /// `1 / x`; see the [elementwise example](self#elementwise).
    recip => UnaryOp::Recip;
    /// The hyperbolic tangent; see the [elementwise example](self#elementwise).
    tanh => UnaryOp::Tanh;
    /// `1 / (1 + e^-x)`; see the [elementwise example](self#elementwise).
    sigmoid => UnaryOp::Sigmoid;
    /// `max(x, 0)`; see the [elementwise example](self#elementwise).
    relu => UnaryOp::Relu;
    /// `x * sigmoid(x)` (HF `silu`, LLaMA's MLP activation); see the [elementwise example](self#elementwise).
    silu => UnaryOp::Silu;
    /// The Gauss error function (what erf-GELU is built on); see the [elementwise example](self#elementwise).
    erf => UnaryOp::Erf;
    /// The sine, for rotary and sinusoidal position tables; see the [elementwise example](self#elementwise).
    sin => UnaryOp::Sin;
    /// The cosine, for rotary and sinusoidal position tables; see the [elementwise example](self#elementwise).
    cos => UnaryOp::Cos;
    /// Logical not of a bool tensor; see the [elementwise example](self#elementwise).
    not => UnaryOp::Not;
}

/// GELU: `Gelu::Erf` is HF `gelu`; `Gelu::Tanh` is `gelu_new` / `gelu_pytorch_tanh`.
///
/// ```
/// # use wgraph::{ops, DType, Gelu, Graph};
/// # let g = Graph::new("g");
/// let h = g.input("h", DType::F32, ["batch", "seq"]);
/// assert_eq!(ops::gelu(&h, Gelu::Tanh).shape(), h.shape());
/// ```
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
    /// `a + b`, broadcast (also the `+` operator); see the [elementwise example](self#elementwise).
    add => BinaryOp::Add;
    /// `a - b`, broadcast (also the `-` operator); see the [elementwise example](self#elementwise).
    sub => BinaryOp::Sub;
    /// `a * b`, broadcast (also the `*` operator); see the [elementwise example](self#elementwise).
    mul => BinaryOp::Mul;
    /// Float division; floor division on integers (Python's `//`); also the `/` operator.
    /// See the [elementwise example](self#elementwise).
    div => BinaryOp::Div;
    /// `a` to the power `b`, floats only; see the [elementwise example](self#elementwise).
    pow => BinaryOp::Pow;
    /// The larger of `a` and `b` per element (`torch.maximum`); see the [elementwise example](self#elementwise).
    maximum => BinaryOp::Max;
    /// The smaller of `a` and `b` per element (`torch.minimum`); see the [elementwise example](self#elementwise).
    minimum => BinaryOp::Min;
    /// Logical and of bool tensors; see the [elementwise example](self#elementwise).
    and => BinaryOp::And;
    /// Logical or of bool tensors; see the [elementwise example](self#elementwise).
    or => BinaryOp::Or;
}

#[track_caller]
fn compare(op: CompareOp, a: &Value, b: &Value) -> Value {
    Graph::build(Op::Compare(op).name(), &[a, b], |_| Ok(Op::Compare(op)))
}

macro_rules! compare_ops {
    ($($(#[$doc:meta])* $name:ident => $op:expr;)*) => {$(
        $(#[$doc])*
        #[track_caller]
        pub fn $name(a: &Value, b: &Value) -> Value {
            compare($op, a, b)
        }
    )*};
}

compare_ops! {
    /// `a == b` as bool, broadcast; see the [elementwise example](self#elementwise).
    eq => CompareOp::Eq;
    /// `a != b` as bool, broadcast; see the [elementwise example](self#elementwise).
    ne => CompareOp::Ne;
    /// `a < b` as bool, broadcast; see the [elementwise example](self#elementwise).
    lt => CompareOp::Lt;
    /// `a <= b` as bool, broadcast; see the [elementwise example](self#elementwise).
    le => CompareOp::Le;
    /// `a > b` as bool, broadcast; see the [elementwise example](self#elementwise).
    gt => CompareOp::Gt;
    /// `a >= b` as bool, broadcast; see the [elementwise example](self#elementwise).
    ge => CompareOp::Ge;
}

/// `cond ? a : b` elementwise, broadcasting all three (`torch.where`), the
/// way to mask scores. See the [elementwise example](self#elementwise).
#[track_caller]
pub fn select(cond: &Value, a: &Value, b: &Value) -> Value {
    Graph::build("where", &[cond, a, b], |_| Ok(Op::Where))
}

/// Converts to `dtype` with the rules of [`Tensor::cast`] (the one explicit
/// conversion: ops never promote). See the [elementwise example](self#elementwise).
#[track_caller]
pub fn cast(x: &Value, dtype: DType) -> Value {
    Graph::build("cast", &[x], |_| Ok(Op::Cast(dtype)))
}

// ---- linear algebra --------------------------------------------------------

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
    let masked = mask.is_some();
    let mut operands = vec![q, k, v];
    operands.extend(mask);
    Graph::build("attention", &operands, |_| Ok(Op::Attention { scale, masked }))
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

// ---- shape -----------------------------------------------------------------

/// Reorders the axes: axis `i` of the result is axis `perm[i]` of `x`
/// (`torch.permute`). A view: kernels read through it instead of copying.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq", "heads"]);
/// assert_eq!(format!("{:?}", ops::permute(&x, &[2, 0, 1]).shape()), "[heads, batch, seq]");
/// ```
#[track_caller]
pub fn permute(x: &Value, perm: &[usize]) -> Value {
    let perm = perm.to_vec();
    Graph::build("permute", &[x], |_| Ok(Op::Permute { perm }))
}

/// Swaps two axes (a [`permute`]).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq", "heads"]);
/// assert_eq!(format!("{:?}", ops::transpose(&x, 0, -1).shape()), "[heads, seq, batch]");
/// ```
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

/// Same elements in row-major order, another shape of the same element
/// count; symbolic dims must appear on both sides (splitting heads, flattening
/// `[batch, seq]` to `[batch*seq]`).
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, [Dim::sym("batch"), Dim::sym("seq"), Dim::new(768)]);
/// let heads = ops::reshape(&x, [Dim::sym("batch"), Dim::sym("seq"), Dim::new(12), Dim::new(64)]);
/// assert_eq!(format!("{:?}", heads.shape()), "[batch, seq, 12, 64]");
/// ```
#[track_caller]
pub fn reshape(x: &Value, shape: impl IntoIterator<Item = impl Into<Dim>>) -> Value {
    let shape = dims(shape);
    Graph::build("reshape", &[x], |_| Ok(Op::Reshape { shape }))
}

/// Inserts a size-1 axis at `axis` (which may equal the rank).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let mask = g.input("attention_mask", DType::I64, ["batch", "seq"]);
/// assert_eq!(format!("{:?}", ops::unsqueeze(&mask, 1).shape()), "[batch, 1, seq]");
/// ```
#[track_caller]
pub fn unsqueeze(x: &Value, axis: isize) -> Value {
    Graph::build("unsqueeze", &[x], |t| {
        let mut shape = t[0].shape.clone();
        let a = resolve_axis(axis, shape.len() + 1)?;
        shape.insert(a, Dim::new(1));
        Ok(Op::Reshape { shape })
    })
}

/// Removes a size-1 axis; any other size is an error.
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let logits = g.input("logits", DType::F32, [Dim::sym("batch"), Dim::new(1)]);
/// assert_eq!(format!("{:?}", ops::squeeze(&logits, -1).shape()), "[batch]");
/// ```
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

/// Broadcasts to a larger shape (numpy `broadcast_to`): size-1 axes stretch
/// and new axes go in front. A view: nothing is copied.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let bias = g.input("bias", DType::F32, [1usize, 8]);
/// assert_eq!(format!("{:?}", ops::expand(&bias, [2usize, 4, 8]).shape()), "[2, 4, 8]");
/// ```
#[track_caller]
pub fn expand(x: &Value, shape: impl IntoIterator<Item = impl Into<Dim>>) -> Value {
    let shape = dims(shape);
    Graph::build("expand", &[x], |_| Ok(Op::Expand { shape }))
}

/// `numpy.take(data, indices, axis)`; an embedding lookup is `gather(&table, &ids, 0)`.
/// Indices are any integer dtype; out-of-range indices are a run-time error.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let table = g.weight("embeddings.word_embeddings.weight", DType::F32, [30522usize, 768]);
/// let ids = g.input("input_ids", DType::I64, ["batch", "seq"]);
/// assert_eq!(format!("{:?}", ops::gather(&table, &ids, 0).shape()), "[batch, seq, 768]");
/// ```
#[track_caller]
pub fn gather(data: &Value, indices: &Value, axis: isize) -> Value {
    Graph::build("gather", &[data, indices], |t| Ok(Op::Gather { axis: resolve_axis(axis, t[0].rank())? }))
}

/// The adjoint of [`gather`] (PyTorch's `index_add` into zeros, or
/// `scatter_add` with the index broadcast): `updates` is shaped like
/// `gather(data, indices, axis)` and the result like `data`, with `size`
/// along `axis`. Element `j` along `axis` is the sum of the update rows at
/// every index position holding `j`, added in index order (so every run
/// gives the same bits); rows no index picks are zero. Indices are any
/// integer dtype; as with [`gather`], an out-of-range index is a run-time
/// error on the interpreter and for graph inputs, while the GPU kernel
/// clamps it into `0..size` (exactly the rows the GPU gather reads).
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let grad_rows = g.input("grad", DType::F32, [2usize, 9, 768]);
/// let ids = g.input("input_ids", DType::I64, [2usize, 9]);
/// let table_grad = ops::scatter_add(&grad_rows, &ids, 0, 30522usize);
/// assert_eq!(format!("{:?}", table_grad.shape()), "[30522, 768]");
/// ```
#[track_caller]
pub fn scatter_add(updates: &Value, indices: &Value, axis: isize, size: impl Into<Dim>) -> Value {
    let size = size.into();
    Graph::build("scatter_add", &[updates, indices], |t| {
        let axis = resolve_axis(axis, scatter_rank(t[0], t[1])?)?;
        Ok(Op::ScatterAdd { axis, size })
    })
}

/// Elements `start..end` along `axis`; bounds may be symbolic.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, ["batch", "seq"]);
/// assert_eq!(format!("{:?}", ops::slice(&x, 1, 1usize, "seq").shape()), "[batch, seq - 1]");
/// ```
#[track_caller]
pub fn slice(x: &Value, axis: isize, start: impl Into<Dim>, end: impl Into<Dim>) -> Value {
    slice_step(x, axis, start, end, 1)
}

/// Elements `start, start+step, ... < end` along `axis`; with a step above 1
/// the span must be static.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let x = g.input("x", DType::F32, [4usize, 10]);
/// assert_eq!(format!("{:?}", ops::slice_step(&x, 1, 1usize, 10usize, 2).shape()), "[4, 5]");
/// ```
#[track_caller]
pub fn slice_step(x: &Value, axis: isize, start: impl Into<Dim>, end: impl Into<Dim>, step: usize) -> Value {
    let (start, end) = (start.into(), end.into());
    Graph::build("slice", &[x], |t| Ok(Op::Slice { axis: resolve_axis(axis, t[0].rank())?, start, end, step }))
}

/// `len` elements from `start` along `axis` (PyTorch `narrow`).
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let cache = g.input("past_key", DType::F32, [Dim::sym("past"), Dim::new(64)]);
/// assert_eq!(format!("{:?}", ops::narrow(&cache, 0, 0usize, 16usize).shape()), "[16, 64]");
/// ```
#[track_caller]
pub fn narrow(x: &Value, axis: isize, start: impl Into<Dim>, len: impl Into<Dim>) -> Value {
    let start = start.into();
    let end = &start + &len.into();
    slice_step(x, axis, start, end, 1)
}

/// Splits `axis` into consecutive pieces of the given sizes (a fused QKV
/// projection into q, k and v); the sizes need not cover the whole axis.
///
/// ```
/// # use wgraph::{ops, DType, Dim, Graph};
/// # let g = Graph::new("g");
/// let qkv = g.input("qkv", DType::F32, [Dim::sym("seq"), Dim::new(96)]);
/// let pieces = ops::split(&qkv, -1, &[32, 32, 32]);
/// assert_eq!(format!("{:?}", pieces[1].shape()), "[seq, 32]");
/// ```
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

/// Joins values along `axis`; every other dim must agree, and so must the
/// dtypes.
///
/// ```
/// # use wgraph::{ops, DType, Graph};
/// # let g = Graph::new("g");
/// let (past, new) = (g.input("past", DType::F32, ["past", "d"]), g.input("new", DType::F32, ["seq", "d"]));
/// assert_eq!(format!("{:?}", ops::concat(&[&past, &new], 0).shape()), "[past + seq, d]");
/// ```
#[track_caller]
pub fn concat(values: &[&Value], axis: isize) -> Value {
    Graph::build("concat", values, |t| Ok(Op::Concat { axis: resolve_axis(axis, t[0].rank())? }))
}

// ---- normalisation and reductions -----------------------------------------

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
