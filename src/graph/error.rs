//! Errors of the graph layer: building ops, declaring inputs and weights,
//! verifying the IR and binding concrete inputs to symbolic shapes.

use super::dim::{Dim, ShapeDisplay};
use super::dtype::DType;
use super::tensor::TensorError;
use serde::{Serialize, Serializer};
use std::fmt;
use std::panic::Location;
use thiserror::Error;

/// The Rust source line that built a node (captured with `#[track_caller]`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SourceLoc(pub &'static Location<'static>);

impl SourceLoc {
    /// The line that called the `#[track_caller]` function this runs in: the
    /// model code that built the node, not a line of wgraph.
    #[track_caller]
    pub fn caller() -> SourceLoc {
        SourceLoc(Location::caller())
    }

    /// The source file's path, as the compiler saw it.
    pub fn file(&self) -> &'static str {
        self.0.file()
    }

    /// The 1-based line number.
    pub fn line(&self) -> u32 {
        self.0.line()
    }
}

impl fmt::Display for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.0.file(), self.0.line(), self.0.column())
    }
}

impl fmt::Debug for SourceLoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for SourceLoc {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{}:{}", self.file(), self.line()))
    }
}

/// A shape as printed in messages.
fn sh(dims: &[Dim]) -> ShapeDisplay<'_> {
    ShapeDisplay(dims)
}

/// What is wrong with an op's operands. Produced by the one shape-inference
/// function, so the builder and the verifier say the same thing.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum ShapeError {
    /// The op got a different number of operands than it takes.
    #[error("expects {expected} operands, got {got}")]
    Arity {
        /// Operands the op takes.
        expected: usize,
        /// Operands it got.
        got: usize,
    },
    /// An operand's dtype is of the wrong kind (a float where an integer index belongs, ...).
    #[error("{operand} must be {expected}, got {got}")]
    DTypeClass {
        /// Which operand, in words (`"the indices"`).
        operand: &'static str,
        /// The kind it must be, in words (`"an integer tensor"`, `"bool"`).
        expected: &'static str,
        /// Its actual dtype.
        got: DType,
    },
    /// Two operands that must share a dtype do not (there is no implicit promotion).
    #[error("operands have different dtypes: {lhs} and {rhs}")]
    DTypeMismatch {
        /// The first operand's dtype.
        lhs: DType,
        /// The second operand's dtype.
        rhs: DType,
    },
    /// An operand has a rank the op cannot take.
    #[error("{operand} must have rank {expected}, got rank {got} ({})", sh(shape))]
    Rank {
        /// Which operand, in words.
        operand: &'static str,
        /// The rank it must have, in words (`"3"`, `"at least 2"`).
        expected: String,
        /// Its actual rank.
        got: usize,
        /// Its shape.
        shape: Vec<Dim>,
    },
    /// Two shapes do not broadcast: a pair of aligned dims differ and neither is 1.
    #[error("cannot broadcast {} with {}: dims {a} and {b} differ and neither is 1", sh(lhs), sh(rhs))]
    Broadcast {
        /// The first operand's shape.
        lhs: Vec<Dim>,
        /// The second operand's shape.
        rhs: Vec<Dim>,
        /// The first operand's offending dim.
        a: Dim,
        /// The second operand's offending dim.
        b: Dim,
    },
    /// A matmul's contracted dims differ (often a Linear weight not transposed: see [`ShapeError::hint`]).
    #[error("cannot multiply {} by {}: inner dims {k_lhs} and {k_rhs} differ", sh(lhs), sh(rhs))]
    MatMulInner {
        /// The left operand's shape.
        lhs: Vec<Dim>,
        /// The right operand's shape.
        rhs: Vec<Dim>,
        /// The left operand's last dim.
        k_lhs: Dim,
        /// The right operand's second-to-last dim.
        k_rhs: Dim,
    },
    /// An axis argument does not name an axis of the operand.
    #[error("axis {axis} is out of range for rank {rank}")]
    Axis {
        /// The axis as given (negative counts from the end).
        axis: isize,
        /// The operand's rank.
        rank: usize,
    },
    /// A permute's axis list is not a permutation of `0..rank`.
    #[error("{perm:?} is not a permutation of the {rank} axes")]
    Permutation {
        /// The axis list as given.
        perm: Vec<usize>,
        /// The operand's rank.
        rank: usize,
    },
    /// A reshape would change the element count (or cannot prove it does not, with symbolic dims).
    #[error("cannot reshape {} ({from_count} elements) to {} ({to_count} elements)", sh(from), sh(to))]
    ElementCount {
        /// The operand's shape.
        from: Vec<Dim>,
        /// The requested shape.
        to: Vec<Dim>,
        /// The operand's element count.
        from_count: Dim,
        /// The requested shape's element count.
        to_count: Dim,
    },
    /// An expand asks to grow a dim that is not 1, or to drop axes.
    #[error("cannot expand {} to {}", sh(from), sh(to))]
    Expand {
        /// The operand's shape.
        from: Vec<Dim>,
        /// The requested shape.
        to: Vec<Dim>,
    },
    /// An operand must have a shape fixed by the others (a norm's gamma, a conv's bias) and does not.
    #[error("{operand} must have shape {}, got {}", sh(expected), sh(got))]
    OperandShape {
        /// Which operand, in words.
        operand: &'static str,
        /// The shape it must have.
        expected: Vec<Dim>,
        /// Its actual shape.
        got: Vec<Dim>,
    },
    /// Slice bounds fall outside the axis, or run backwards, or the step is 0.
    #[error("slice {start}..{end} step {step} does not fit axis {axis} of size {size}: {reason}")]
    Slice {
        /// The sliced axis.
        axis: usize,
        /// Its size.
        size: Dim,
        /// The first index taken.
        start: Dim,
        /// One past the last index.
        end: Dim,
        /// The stride between taken indices.
        step: usize,
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// Concat operands differ in a dim other than the one they are joined along.
    #[error("operands {} and {} differ outside the concat axis {axis}", sh(first), sh(other))]
    Concat {
        /// The concat axis.
        axis: usize,
        /// The first operand's shape.
        first: Vec<Dim>,
        /// The shape of the first operand that differs from it.
        other: Vec<Dim>,
    },
    /// The op needs a dim known when the graph is built (a strided slice, conv1d channels) and got a symbol.
    #[error("{what} needs a static size, got {dim}")]
    NeedsStatic {
        /// What needs the static size, in words.
        what: &'static str,
        /// The symbolic dim it got.
        dim: Dim,
    },
    /// Anything else an op refuses (bad attributes, an empty concat), said in words.
    #[error("{what}: {detail}")]
    Invalid {
        /// The op or operand at fault.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl ShapeError {
    /// A suggestion for the most common cause, where there is one.
    pub fn hint(&self) -> Option<String> {
        match self {
            ShapeError::MatMulInner { lhs, rhs, k_lhs, .. } => {
                let rhs_last = rhs.last()?;
                (rhs.len() >= 2 && rhs_last == k_lhs && lhs.len() >= 2).then(|| {
                    "the right operand looks transposed; a Linear weight is stored [out, in], so multiply by \
                     ops::transpose(&w, -2, -1)"
                        .to_string()
                })
            }
            ShapeError::DTypeMismatch { .. } => Some("convert one side with ops::cast".to_string()),
            ShapeError::Broadcast { .. } => Some(
                "dims broadcast when equal or 1; symbolic dims are equal only when they have the same name".to_string(),
            ),
            ShapeError::ElementCount { .. } => {
                Some("a reshape keeps the element count; symbolic dims must appear on both sides".to_string())
            }
            ShapeError::Axis { .. } => Some("negative axes count from the end".to_string()),
            _ => None,
        }
    }
}

/// Errors from building, verifying or binding a graph.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum GraphError {
    /// An op's operands do not fit it; recorded where the op was built.
    #[error("{op} at {location}: {source}{}", fmt_hint(source.hint()))]
    Op {
        /// The op's name (`matmul`).
        op: &'static str,
        /// The model line that built it.
        location: SourceLoc,
        /// What is wrong with the operands.
        source: Box<ShapeError>,
    },
    /// Two inputs share a name (inputs are bound by name, so one would be unreachable).
    #[error("input `{name}` is declared twice: at {first} and at {second}")]
    DuplicateInput {
        /// The input's name.
        name: String,
        /// Where it was first declared.
        first: SourceLoc,
        /// Where it was declared again.
        second: SourceLoc,
    },
    /// One checkpoint key is declared as a weight twice with different dtypes or shapes.
    #[error(
        "weight `{name}` is declared twice with different types: {first_type} at {first} and {second_type} at {second}"
    )]
    DuplicateWeight {
        /// The checkpoint key.
        name: String,
        /// The type of the first declaration (`f32[768, 768]`).
        first_type: String,
        /// The type of the second.
        second_type: String,
        /// Where it was first declared.
        first: SourceLoc,
        /// Where it was declared again.
        second: SourceLoc,
    },
    /// Two outputs share a name.
    #[error("output `{name}` is declared twice (at {location})")]
    DuplicateOutput {
        /// The output's name.
        name: String,
        /// Where the second declaration happened.
        location: SourceLoc,
    },
    /// An op mixes values of two different graphs.
    #[error("{op} at {location}: an operand belongs to graph `{other}`, not to `{graph}`")]
    ForeignValue {
        /// The op's name.
        op: &'static str,
        /// The model line that built it.
        location: SourceLoc,
        /// The graph the op was built in.
        graph: String,
        /// The graph the stray operand belongs to.
        other: String,
    },
    /// A constant's host data does not match its shape.
    #[error("constant at {location}: {source}")]
    Constant {
        /// The model line that built the constant.
        location: SourceLoc,
        /// What is wrong with its data.
        source: TensorError,
    },
    /// The graph is used (compiled, run, dumped) before any output was declared.
    #[error("graph `{graph}` has no outputs; declare them with Graph::output")]
    NoOutputs {
        /// The graph's name.
        graph: String,
    },
    /// An edit of a built graph ([`Ir::bypass`](super::Ir::bypass), autodiff's rewrites)
    /// names something that is not there.
    #[error("graph edit: {detail}")]
    Edit {
        /// What could not be edited, in words.
        detail: String,
    },
    /// Every error recorded while the graph was built, returned together once the graph is used.
    #[error("{} while building graph `{graph}`:\n{}", plural(errors.len()), list(errors))]
    Build {
        /// The graph's name.
        graph: String,
        /// The recorded errors, in the order the ops were built.
        errors: Vec<GraphError>,
    },
    /// The IR verifier found a broken invariant after a pass: a wgraph bug, not a model bug.
    #[error("verifier: node %{node} ({op}, built at {location}): {detail}")]
    Verify {
        /// The offending node's index.
        node: usize,
        /// Its op's name.
        op: &'static str,
        /// The model line that built it.
        location: SourceLoc,
        /// The broken invariant, in words.
        detail: String,
    },
}

fn fmt_hint(hint: Option<String>) -> String {
    hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default()
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 error".into()
    } else {
        format!("{n} errors")
    }
}

fn list(errors: &[GraphError]) -> String {
    errors.iter().map(|e| format!("  - {}", e.to_string().replace('\n', "\n    "))).collect::<Vec<_>>().join("\n")
}

/// Errors binding concrete inputs to a graph's declared inputs.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum BindError {
    /// A declared input was not given.
    #[error("missing input `{name}` ({expected}); the graph takes: {}", takes.join(", "))]
    Missing {
        /// The missing input's name.
        name: String,
        /// Its declared type (`i64[batch, seq]`).
        expected: String,
        /// Every input the graph takes, with its type.
        takes: Vec<String>,
    },
    /// A tensor was given under a name the graph does not declare (a typo, usually).
    #[error("unknown input `{name}`; the graph takes: {}", takes.join(", "))]
    Unknown {
        /// The name given.
        name: String,
        /// Every input the graph takes, with its type.
        takes: Vec<String>,
    },
    /// An input's dtype is of another kind than declared (integers of any width convert
    /// to the declared integer dtype, floats to the declared float dtype; nothing else does).
    #[error("input `{name}` has dtype {got}, expected {expected}{}", fmt_hint(dtype_hint(*expected, *got)))]
    DType {
        /// The input's name.
        name: String,
        /// The declared dtype.
        expected: DType,
        /// The given tensor's dtype.
        got: DType,
    },
    /// An input has another rank than declared.
    #[error("input `{name}` has rank {got} (shape {got_shape:?}), expected rank {expected} ({})", sh(declared))]
    Rank {
        /// The input's name.
        name: String,
        /// The declared rank.
        expected: usize,
        /// The given tensor's rank.
        got: usize,
        /// The given tensor's shape.
        got_shape: Vec<usize>,
        /// The declared shape.
        declared: Vec<Dim>,
    },
    /// An axis has another size than its static (or already-bound) dim says.
    #[error("input `{name}` axis {axis} has size {got}, expected {expected} (shape {got_shape:?})")]
    Size {
        /// The input's name.
        name: String,
        /// The axis that differs.
        axis: usize,
        /// The size the declaration requires.
        expected: usize,
        /// The size given.
        got: usize,
        /// The given tensor's shape.
        got_shape: Vec<usize>,
    },
    /// Two inputs give one symbol two different sizes (`seq` is 7 in `input_ids`, 9 in `attention_mask`).
    #[error(
        "symbolic dim `{symbol}` is {first} from `{first_input}` but {second} from `{second_input}` (axis {axis})"
    )]
    Conflict {
        /// The symbol's name.
        symbol: String,
        /// The size the first input gave it.
        first: usize,
        /// The input that bound it first.
        first_input: String,
        /// The size the second input gives it.
        second: usize,
        /// The input that disagrees.
        second_input: String,
        /// The disagreeing axis of `second_input`.
        axis: usize,
    },
    /// A dim expression (`seq + past`) whose symbols no single-symbol input binds.
    #[error("input `{name}` axis {axis}: dim `{dim}` cannot be computed from the other inputs")]
    Unsolvable {
        /// The input's name.
        name: String,
        /// The axis declared with the expression.
        axis: usize,
        /// The declared dim expression.
        dim: Dim,
    },
    /// A symbolic dim is bound outside the sizes the graph allows (see
    /// [`Graph::limit`](super::Graph::limit)).
    #[error(
        "input `{input}` axis {axis}: `{symbol}` = {value} is outside what this graph allows ({}){}",
        if *min == *max { format!("exactly {min}") } else if *value < *min { format!("at least {min}") } else { format!("at most {max}") },
        if why.is_empty() || *value < *min { String::new() } else { format!(": {why}") }
    )]
    OutOfRange {
        /// The symbol (`seq`).
        symbol: String,
        /// The size the inputs give it.
        value: usize,
        /// The input that bound it.
        input: String,
        /// The axis of `input` that bound it.
        axis: usize,
        /// The smallest size allowed.
        min: usize,
        /// The largest size allowed.
        max: usize,
        /// Where the limit comes from.
        why: String,
    },
    /// The graph uses a symbol (in a reshape, a range) that no input's shape determines.
    #[error("symbol `{symbol}` used by the graph is bound by no input")]
    Unbound {
        /// The symbol's name.
        symbol: String,
    },
}

fn dtype_hint(expected: DType, got: DType) -> Option<String> {
    let kind = |d: DType| {
        if d.is_int() {
            "integer"
        } else if d.is_float() {
            "floating-point"
        } else {
            "boolean"
        }
    };
    Some(format!(
        "store it as {expected} ({} inputs of any width are accepted; {got} is a {} type)",
        kind(expected),
        kind(got)
    ))
}
