//! The kinds inside the op families: which unary, binary, comparison,
//! reduction and row operation, each a closed enum.

/// Elementwise functions of one operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x` ([`ops::neg`](crate::graph::ops::neg)).
    Neg,
    /// `|x|` ([`ops::abs`](crate::graph::ops::abs)).
    Abs,
    /// `e^x` ([`ops::exp`](crate::graph::ops::exp)).
    Exp,
    /// Natural logarithm ([`ops::log`](crate::graph::ops::log)).
    Log,
    /// Square root ([`ops::sqrt`](crate::graph::ops::sqrt)).
    Sqrt,
    /// `1 / sqrt(x)` ([`ops::rsqrt`](crate::graph::ops::rsqrt)).
    Rsqrt,
    /// `1 / x` ([`ops::recip`](crate::graph::ops::recip)).
    Recip,
    /// Hyperbolic tangent ([`ops::tanh`](crate::graph::ops::tanh)).
    Tanh,
    /// `1 / (1 + e^-x)` ([`ops::sigmoid`](crate::graph::ops::sigmoid)).
    Sigmoid,
    /// `max(x, 0)` ([`ops::relu`](crate::graph::ops::relu)).
    Relu,
    /// `x * sigmoid(x)` ([`ops::silu`](crate::graph::ops::silu)).
    Silu,
    /// GELU in one of its two forms ([`ops::gelu`](crate::graph::ops::gelu)).
    Gelu(Gelu),
    /// The Gauss error function ([`ops::erf`](crate::graph::ops::erf)).
    Erf,
    /// Sine ([`ops::sin`](crate::graph::ops::sin)).
    Sin,
    /// Cosine ([`ops::cos`](crate::graph::ops::cos)).
    Cos,
    /// Logical negation, bool only.
    Not,
}

/// The two GELU forms HF models use: `gelu` (erf) and `gelu_new`/`gelu_pytorch_tanh` (tanh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gelu {
    /// The exact form, `x * Φ(x)` with the normal CDF from erf (HF `gelu`).
    Erf,
    /// The tanh approximation (HF `gelu_new`, `gelu_pytorch_tanh`).
    Tanh,
}

/// Elementwise functions of two broadcast operands of one dtype.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// Float division; on integers, floor division (Python's `//`).
    Div,
    /// `a` to the power `b`, floats only.
    Pow,
    /// The larger operand per element (`torch.maximum`).
    Max,
    /// The smaller operand per element (`torch.minimum`).
    Min,
    /// Logical and of bool operands.
    And,
    /// Logical or of bool operands.
    Or,
}

/// Elementwise comparisons, producing bool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
}

/// Reductions over one axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// The sum (floats or integers).
    Sum,
    /// The mean (floats only).
    Mean,
    /// The largest element.
    Max,
    /// The smallest element.
    Min,
}

/// Ops that read a whole row along one axis: one kernel family (one
/// workgroup per row on the GPU), each op its own reduction or scan.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowOp {
    /// Normalises over the last axis: operands x, gamma, beta.
    LayerNorm {
        /// Added to the variance before the square root.
        eps: f64,
    },
    /// `x * rsqrt(mean(x^2) + eps) * gamma` over the last axis: operands x, gamma.
    RmsNorm {
        /// Added to the mean square before the square root.
        eps: f64,
    },
    /// LayerNorm's input gradient (without the affine part) over the last
    /// axis: operands x, dy, gamma; with `h = dy * gamma` and `xhat` the
    /// normalised x, `rstd * (h - mean(h) - xhat * mean(h * xhat))`.
    LayerNormGrad {
        /// The forward LayerNorm's epsilon.
        eps: f64,
    },
    /// RMSNorm's input gradient over the last axis: operands x, dy, gamma;
    /// `r * (h - xhat * mean(h * xhat))` with `h = dy * gamma`,
    /// `r = rsqrt(mean(x^2) + eps)` and `xhat = x * r`.
    RmsNormGrad {
        /// The forward RMSNorm's epsilon.
        eps: f64,
    },
    /// `exp(x - max) / sum(exp(x - max))` along the axis.
    Softmax {
        /// The axis normalised over (resolved: never negative in the IR).
        axis: usize,
    },
    /// A reduction to one value per row.
    Reduce {
        /// Which reduction.
        op: ReduceOp,
        /// The axis reduced.
        axis: usize,
        /// Whether the axis stays, with size 1.
        keep_dim: bool,
    },
    /// Index of the first maximum, as i64.
    ArgMax {
        /// The axis searched.
        axis: usize,
        /// Whether the axis stays, with size 1.
        keep_dim: bool,
    },
    /// Inclusive prefix sum along the axis (`torch.cumsum`).
    Cumsum {
        /// The axis summed along.
        axis: usize,
    },
}

impl RowOp {
    /// The axis the op reads along (norms: the last of `rank` axes).
    pub fn axis(&self, rank: usize) -> usize {
        match self {
            RowOp::Softmax { axis }
            | RowOp::Reduce { axis, .. }
            | RowOp::ArgMax { axis, .. }
            | RowOp::Cumsum { axis } => *axis,
            RowOp::LayerNorm { .. }
            | RowOp::RmsNorm { .. }
            | RowOp::LayerNormGrad { .. }
            | RowOp::RmsNormGrad { .. } => rank.saturating_sub(1),
        }
    }

    /// The op's stable name (see [`Op::name`](super::Op::name)).
    pub fn name(&self) -> &'static str {
        match self {
            RowOp::LayerNorm { .. } => "layer_norm",
            RowOp::RmsNorm { .. } => "rms_norm",
            RowOp::LayerNormGrad { .. } => "layer_norm_grad",
            RowOp::RmsNormGrad { .. } => "rms_norm_grad",
            RowOp::Softmax { .. } => "softmax",
            RowOp::Reduce { op, .. } => match op {
                ReduceOp::Sum => "sum",
                ReduceOp::Mean => "mean",
                ReduceOp::Max => "max",
                ReduceOp::Min => "min",
            },
            RowOp::ArgMax { .. } => "argmax",
            RowOp::Cumsum { .. } => "cumsum",
        }
    }

    pub(super) fn attrs(&self) -> Vec<(&'static str, String)> {
        match self {
            RowOp::Softmax { axis } | RowOp::Cumsum { axis } => vec![("axis", axis.to_string())],
            RowOp::LayerNorm { eps }
            | RowOp::RmsNorm { eps }
            | RowOp::LayerNormGrad { eps }
            | RowOp::RmsNormGrad { eps } => vec![("eps", format!("{eps:e}"))],
            RowOp::Reduce { axis, keep_dim, .. } | RowOp::ArgMax { axis, keep_dim } => {
                vec![("axis", axis.to_string()), ("keep_dim", keep_dim.to_string())]
            }
        }
    }
}
