//! The closed set of operations. Every pass, the interpreter and the lowering
//! match on [`Op`] exhaustively, so adding an op is a compile error in every
//! place that must learn about it.

mod family;
mod kinds;

pub use family::{OpFamily, SourceKind};
pub use kinds::{BinaryOp, CompareOp, Gelu, ReduceOp, RowOp, UnaryOp};

use super::dim::{Dim, ShapeDisplay};
use super::dtype::DType;
use super::tensor::Tensor;
use std::fmt;
use std::sync::Arc;

/// One node's operation. Operands arrive in the order of the edge slots.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A runtime input, named as the HF forward argument (`input_ids`).
    Input {
        /// The name inputs are bound by.
        name: String,
        /// The declared dtype (integer and float inputs convert to it).
        dtype: DType,
        /// The declared shape; its symbols are bound from the given tensor.
        shape: Vec<Dim>,
    },
    /// A weight from the registry, named by its checkpoint key.
    Weight {
        /// The checkpoint key (`encoder.layer.0.attention.self.query.weight`).
        name: String,
        /// The dtype the graph computes in (the stored dtype converts to it).
        dtype: DType,
        /// The shape the checkpoint must have.
        shape: Vec<Dim>,
        /// The block format the weight stays in on the device, read by
        /// kernels that dequantize as they load (`None`: `dtype` values).
        /// Graphs are built without one; the loader sets it for weights a
        /// GGUF file stores quantized.
        quant: Option<super::quant::Quant>,
    },
    /// A literal tensor embedded in the graph.
    Constant {
        /// The data, shared so cloning the IR does not copy it.
        value: Arc<Tensor>,
    },
    /// `start, start+step, ...`, `len` elements (1-D, of the node's dtype).
    Range {
        /// The first element.
        start: i64,
        /// The difference between neighbours.
        step: i64,
        /// The number of elements (often a symbol: `seq`).
        len: Dim,
        /// The element type.
        dtype: DType,
    },
    /// A bool `[rows, cols]` mask, true where attention is allowed. Query row
    /// `i` sits at key position `i + cols - rows` (the rows are the last
    /// `rows` positions, which is how a KV cache lines up); key `j` is allowed
    /// when `-before <= j - (i + cols - rows) <= after`. A causal mask is
    /// `before = None, after = Some(0)`.
    BandMask {
        /// Query positions (the new tokens).
        rows: Dim,
        /// Key positions (all tokens).
        cols: Dim,
        /// How far back a query sees (`None`: unbounded).
        before: Option<usize>,
        /// How far ahead a query sees (`None`: unbounded).
        after: Option<usize>,
    },
    /// An elementwise function of one operand.
    Unary(UnaryOp),
    /// An elementwise function of two broadcast operands.
    Binary(BinaryOp),
    /// An elementwise comparison of two broadcast operands, giving bool.
    Compare(CompareOp),
    /// `cond ? a : b`, broadcasting all three.
    Where,
    /// Conversion to the given dtype (see [`Tensor::cast`]).
    Cast(DType),
    /// `[..., m, k] x [..., k, n]`, batch dims broadcast.
    MatMul,
    /// Reorders axes: output axis `i` is operand axis `perm[i]`.
    Permute {
        /// A permutation of `0..rank`.
        perm: Vec<usize>,
    },
    /// Same elements in row-major order, another shape.
    Reshape {
        /// The new shape, of the same element count.
        shape: Vec<Dim>,
    },
    /// Broadcast to a larger shape (numpy `broadcast_to`).
    Expand {
        /// The target shape.
        shape: Vec<Dim>,
    },
    /// `numpy.take(data, indices, axis)`: the axis is replaced by the index shape.
    Gather {
        /// The data axis indexed.
        axis: usize,
    },
    /// The adjoint of [`Op::Gather`]: operands `updates` (shaped like the
    /// gather's output) and `indices`; the result is shaped like the
    /// gather's data, `size` along `axis`, and element `j` along `axis` is
    /// the sum of the updates at every index position `m` with
    /// `indices[m] == j`, added in increasing `m` (zero where no index
    /// points). The gradient of an embedding lookup.
    ScatterAdd {
        /// The output axis scattered into (the gather's data axis).
        axis: usize,
        /// The output's length along `axis` (the gather's table rows).
        size: Dim,
    },
    /// Elements `start, start+step, ... < end` along one axis.
    Slice {
        /// The sliced axis.
        axis: usize,
        /// The first index taken.
        start: Dim,
        /// One past the last index.
        end: Dim,
        /// The stride between taken indices (at least 1).
        step: usize,
    },
    /// Operands joined along one axis, in slot order.
    Concat {
        /// The axis they are joined along.
        axis: usize,
    },
    /// Reads whole rows along one axis: reductions, softmax, norms.
    Row(RowOp),
    /// `[n, c_in, len] * [c_out, c_in/groups, k] (+ bias[c_out])`, zero padding.
    Conv1d {
        /// Step between window starts.
        stride: usize,
        /// Zeros added at both ends of the length.
        padding: usize,
        /// Spacing between the kernel's taps.
        dilation: usize,
        /// Channel groups convolved independently.
        groups: usize,
    },
    /// Scaled dot-product attention in one op, `softmax(mask(q k^T *
    /// scale)) v` along the key axis: operands `q` `[.., q_len, d]`, `k`
    /// `[.., k_len, d]`, `v` `[.., k_len, dv]` (the same batch dims), and
    /// when `masked` a bool mask broadcastable to `[.., q_len, k_len]`
    /// (true = attend; a masked score becomes the lowest f32, as HF adds).
    /// Result `[.., q_len, dv]`, or with `rows_first` (rank 3 and up)
    /// `[.., q_len, heads, dv]`: the query rows before the last batch axis,
    /// the layout a multi-head attention's output permute asks for. Only
    /// the compiler's `fuse-attention` pass makes it, from the primitive
    /// ops, so scores never reach memory.
    Attention {
        /// The factor on the scores (`None`: 1, the caller scaled `q`).
        scale: Option<f64>,
        /// Whether a fourth operand masks scores.
        masked: bool,
        /// Whether the result swaps the query rows with the axis before
        /// them.
        rows_first: bool,
    },
}

impl Op {
    /// For the ops whose value is stored rather than computed (the
    /// [`OpFamily::Source`] family), which kind; `None` for every other op.
    pub fn source_kind(&self) -> Option<SourceKind> {
        // Derived from the exhaustive `family`: only sources are stored.
        if let Op::Input { .. } = self {
            Some(SourceKind::Input)
        } else if let Op::Weight { .. } = self {
            Some(SourceKind::Weight)
        } else if let Op::Constant { .. } = self {
            Some(SourceKind::Constant)
        } else {
            None
        }
    }

    /// The op's family (see [`OpFamily`]).
    pub fn family(&self) -> OpFamily {
        match self {
            Op::Input { .. } | Op::Weight { .. } | Op::Constant { .. } => OpFamily::Source,
            Op::Range { .. } | Op::BandMask { .. } => OpFamily::Generator,
            Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Where | Op::Cast(_) => OpFamily::Elementwise,
            Op::Permute { .. }
            | Op::Reshape { .. }
            | Op::Expand { .. }
            | Op::Gather { .. }
            | Op::Slice { .. }
            | Op::Concat { .. } => OpFamily::Movement,
            Op::MatMul => OpFamily::MatMul,
            Op::Conv1d { .. } => OpFamily::Convolution,
            Op::Row(_) => OpFamily::Row,
            Op::ScatterAdd { .. } => OpFamily::Scatter,
            Op::Attention { .. } => OpFamily::Attention,
        }
    }

    /// Index-only ops: recomputing them in every reader costs a few integer
    /// instructions, less than a round trip through memory.
    pub fn is_index_only(&self) -> bool {
        matches!(self.family(), OpFamily::Generator)
            || matches!(self, Op::Permute { .. } | Op::Reshape { .. } | Op::Expand { .. } | Op::Slice { .. })
    }

    /// A short stable name (`matmul`, `layer_norm`, `add`), used in dumps,
    /// error messages and GPU object labels.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Weight { .. } => "weight",
            Op::Constant { .. } => "constant",
            Op::Range { .. } => "range",
            Op::BandMask { .. } => "band_mask",
            Op::Unary(u) => match u {
                UnaryOp::Neg => "neg",
                UnaryOp::Abs => "abs",
                UnaryOp::Exp => "exp",
                UnaryOp::Log => "log",
                UnaryOp::Sqrt => "sqrt",
                UnaryOp::Rsqrt => "rsqrt",
                UnaryOp::Recip => "recip",
                UnaryOp::Tanh => "tanh",
                UnaryOp::Sigmoid => "sigmoid",
                UnaryOp::Relu => "relu",
                UnaryOp::Silu => "silu",
                UnaryOp::Gelu(Gelu::Erf) => "gelu",
                UnaryOp::Gelu(Gelu::Tanh) => "gelu_tanh",
                UnaryOp::Erf => "erf",
                UnaryOp::Sin => "sin",
                UnaryOp::Cos => "cos",
                UnaryOp::Not => "not",
            },
            Op::Binary(b) => match b {
                BinaryOp::Add => "add",
                BinaryOp::Sub => "sub",
                BinaryOp::Mul => "mul",
                BinaryOp::Div => "div",
                BinaryOp::Pow => "pow",
                BinaryOp::Max => "maximum",
                BinaryOp::Min => "minimum",
                BinaryOp::And => "and",
                BinaryOp::Or => "or",
            },
            Op::Compare(c) => match c {
                CompareOp::Eq => "eq",
                CompareOp::Ne => "ne",
                CompareOp::Lt => "lt",
                CompareOp::Le => "le",
                CompareOp::Gt => "gt",
                CompareOp::Ge => "ge",
            },
            Op::Where => "where",
            Op::Cast(_) => "cast",
            Op::MatMul => "matmul",
            Op::Permute { .. } => "permute",
            Op::Reshape { .. } => "reshape",
            Op::Expand { .. } => "expand",
            Op::Gather { .. } => "gather",
            Op::ScatterAdd { .. } => "scatter_add",
            Op::Slice { .. } => "slice",
            Op::Concat { .. } => "concat",
            Op::Row(r) => r.name(),
            Op::Conv1d { .. } => "conv1d",
            Op::Attention { .. } => "attention",
        }
    }

    /// Whether this op reads no operands (a leaf of the graph).
    pub fn is_source(&self) -> bool {
        matches!(self.family(), OpFamily::Source | OpFamily::Generator)
    }

    /// The attributes as `key=value` pairs, in a stable order, for dumps.
    pub fn attrs(&self) -> Vec<(&'static str, String)> {
        let opt = |o: &Option<usize>| o.map_or("inf".to_string(), |v| v.to_string());
        match self {
            Op::Input { name, .. } | Op::Weight { name, quant: None, .. } => vec![("name", format!("{name:?}"))],
            Op::Weight { name, quant: Some(q), .. } => vec![("name", format!("{name:?}")), ("quant", q.to_string())],
            Op::Constant { value } => vec![("value", constant_summary(value))],
            Op::Range { start, step, len, dtype } => vec![
                ("start", start.to_string()),
                ("step", step.to_string()),
                ("len", len.to_string()),
                ("dtype", dtype.to_string()),
            ],
            Op::BandMask { rows, cols, before, after } => vec![
                ("rows", rows.to_string()),
                ("cols", cols.to_string()),
                ("before", opt(before)),
                ("after", opt(after)),
            ],
            Op::Unary(_) | Op::Binary(_) | Op::Compare(_) | Op::Where | Op::MatMul => vec![],
            Op::Cast(d) => vec![("to", d.to_string())],
            Op::Permute { perm } => vec![("perm", format!("{perm:?}"))],
            Op::Reshape { shape } | Op::Expand { shape } => vec![("shape", ShapeDisplay(shape).to_string())],
            Op::Gather { axis } | Op::Concat { axis } => vec![("axis", axis.to_string())],
            Op::ScatterAdd { axis, size } => vec![("axis", axis.to_string()), ("size", size.to_string())],
            Op::Slice { axis, start, end, step } => vec![
                ("axis", axis.to_string()),
                ("start", start.to_string()),
                ("end", end.to_string()),
                ("step", step.to_string()),
            ],
            Op::Row(r) => r.attrs(),
            Op::Conv1d { stride, padding, dilation, groups } => vec![
                ("stride", stride.to_string()),
                ("padding", padding.to_string()),
                ("dilation", dilation.to_string()),
                ("groups", groups.to_string()),
            ],
            Op::Attention { scale, masked, rows_first } => vec![
                ("scale", scale.map_or_else(|| "none".to_string(), |s| s.to_string())),
                ("masked", masked.to_string()),
                ("rows_first", rows_first.to_string()),
            ],
        }
    }
}

/// Small constants print their values; large ones only their size.
fn constant_summary(t: &Tensor) -> String {
    if t.numel() <= 8 {
        let vals: Vec<String> = t.to_f64_vec().iter().map(|v| format!("{v}")).collect();
        format!("[{}]", vals.join(", "))
    } else {
        format!("<{} elements>", t.numel())
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
