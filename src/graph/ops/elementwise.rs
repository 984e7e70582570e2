//! Elementwise ops: unary functions, binary arithmetic, comparisons, select and cast.

use super::*;

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
    /// `-x`, integers too (also the `-` operator on values); see the [elementwise example](super#elementwise).
    neg => UnaryOp::Neg;
    /// `|x|`, integers too; see the [elementwise example](super#elementwise).
    abs => UnaryOp::Abs;
    /// `e^x`; see the [elementwise example](super#elementwise).
    exp => UnaryOp::Exp;
    /// The natural logarithm; see the [elementwise example](super#elementwise).
    log => UnaryOp::Log;
    /// The square root; see the [elementwise example](super#elementwise).
    sqrt => UnaryOp::Sqrt;
    /// `1 / sqrt(x)`, one op for the norms that divide by a root; see the [elementwise example](super#elementwise).
    rsqrt => UnaryOp::Rsqrt;
    /// `1 / x`; see the [elementwise example](super#elementwise).
    recip => UnaryOp::Recip;
    /// The hyperbolic tangent; see the [elementwise example](super#elementwise).
    tanh => UnaryOp::Tanh;
    /// `1 / (1 + e^-x)`; see the [elementwise example](super#elementwise).
    sigmoid => UnaryOp::Sigmoid;
    /// `max(x, 0)`; see the [elementwise example](super#elementwise).
    relu => UnaryOp::Relu;
    /// `x * sigmoid(x)` (HF `silu`, LLaMA's MLP activation); see the [elementwise example](super#elementwise).
    silu => UnaryOp::Silu;
    /// The Gauss error function (what erf-GELU is built on); see the [elementwise example](super#elementwise).
    erf => UnaryOp::Erf;
    /// The sine, for rotary and sinusoidal position tables; see the [elementwise example](super#elementwise).
    sin => UnaryOp::Sin;
    /// The cosine, for rotary and sinusoidal position tables; see the [elementwise example](super#elementwise).
    cos => UnaryOp::Cos;
    /// Logical not of a bool tensor; see the [elementwise example](super#elementwise).
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
    /// `a + b`, broadcast (also the `+` operator); see the [elementwise example](super#elementwise).
    add => BinaryOp::Add;
    /// `a - b`, broadcast (also the `-` operator); see the [elementwise example](super#elementwise).
    sub => BinaryOp::Sub;
    /// `a * b`, broadcast (also the `*` operator); see the [elementwise example](super#elementwise).
    mul => BinaryOp::Mul;
    /// Float division; floor division on integers (Python's `//`); also the `/` operator.
    /// See the [elementwise example](super#elementwise).
    div => BinaryOp::Div;
    /// `a` to the power `b`, floats only; see the [elementwise example](super#elementwise).
    pow => BinaryOp::Pow;
    /// The larger of `a` and `b` per element (`torch.maximum`); see the [elementwise example](super#elementwise).
    maximum => BinaryOp::Max;
    /// The smaller of `a` and `b` per element (`torch.minimum`); see the [elementwise example](super#elementwise).
    minimum => BinaryOp::Min;
    /// Logical and of bool tensors; see the [elementwise example](super#elementwise).
    and => BinaryOp::And;
    /// Logical or of bool tensors; see the [elementwise example](super#elementwise).
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
    /// `a == b` as bool, broadcast; see the [elementwise example](super#elementwise).
    eq => CompareOp::Eq;
    /// `a != b` as bool, broadcast; see the [elementwise example](super#elementwise).
    ne => CompareOp::Ne;
    /// `a < b` as bool, broadcast; see the [elementwise example](super#elementwise).
    lt => CompareOp::Lt;
    /// `a <= b` as bool, broadcast; see the [elementwise example](super#elementwise).
    le => CompareOp::Le;
    /// `a > b` as bool, broadcast; see the [elementwise example](super#elementwise).
    gt => CompareOp::Gt;
    /// `a >= b` as bool, broadcast; see the [elementwise example](super#elementwise).
    ge => CompareOp::Ge;
}

/// `cond ? a : b` elementwise, broadcasting all three (`torch.where`), the
/// way to mask scores. See the [elementwise example](super#elementwise).
#[track_caller]
pub fn select(cond: &Value, a: &Value, b: &Value) -> Value {
    Graph::build("where", &[cond, a, b], |_| Ok(Op::Where))
}

/// Converts to `dtype` with the rules of [`Tensor::cast`] (the one explicit
/// conversion: ops never promote). See the [elementwise example](super#elementwise).
#[track_caller]
pub fn cast(x: &Value, dtype: DType) -> Value {
    Graph::build("cast", &[x], |_| Ok(Op::Cast(dtype)))
}
