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
    #[track_caller]
    pub fn caller() -> SourceLoc {
        SourceLoc(Location::caller())
    }

    pub fn file(&self) -> &'static str {
        self.0.file()
    }

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
    #[error("expects {expected} operands, got {got}")]
    Arity { expected: usize, got: usize },
    #[error("{operand} must be {expected}, got {got}")]
    DTypeClass { operand: &'static str, expected: &'static str, got: DType },
    #[error("operands have different dtypes: {lhs} and {rhs}")]
    DTypeMismatch { lhs: DType, rhs: DType },
    #[error("{operand} must have rank {expected}, got rank {got} ({})", sh(shape))]
    Rank { operand: &'static str, expected: String, got: usize, shape: Vec<Dim> },
    #[error("cannot broadcast {} with {}: dims {a} and {b} differ and neither is 1", sh(lhs), sh(rhs))]
    Broadcast { lhs: Vec<Dim>, rhs: Vec<Dim>, a: Dim, b: Dim },
    #[error("cannot multiply {} by {}: inner dims {k_lhs} and {k_rhs} differ", sh(lhs), sh(rhs))]
    MatMulInner { lhs: Vec<Dim>, rhs: Vec<Dim>, k_lhs: Dim, k_rhs: Dim },
    #[error("axis {axis} is out of range for rank {rank}")]
    Axis { axis: isize, rank: usize },
    #[error("{perm:?} is not a permutation of the {rank} axes")]
    Permutation { perm: Vec<usize>, rank: usize },
    #[error("cannot reshape {} ({from_count} elements) to {} ({to_count} elements)", sh(from), sh(to))]
    ElementCount { from: Vec<Dim>, to: Vec<Dim>, from_count: Dim, to_count: Dim },
    #[error("cannot expand {} to {}", sh(from), sh(to))]
    Expand { from: Vec<Dim>, to: Vec<Dim> },
    #[error("{operand} must have shape {}, got {}", sh(expected), sh(got))]
    OperandShape { operand: &'static str, expected: Vec<Dim>, got: Vec<Dim> },
    #[error("slice {start}..{end} step {step} does not fit axis {axis} of size {size}: {reason}")]
    Slice { axis: usize, size: Dim, start: Dim, end: Dim, step: usize, reason: &'static str },
    #[error("operands {} and {} differ outside the concat axis {axis}", sh(first), sh(other))]
    Concat { axis: usize, first: Vec<Dim>, other: Vec<Dim> },
    #[error("{what} needs a static size, got {dim}")]
    NeedsStatic { what: &'static str, dim: Dim },
    #[error("{what}: {detail}")]
    Invalid { what: &'static str, detail: String },
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
    #[error("{op} at {location}: {source}{}", fmt_hint(source.hint()))]
    Op { op: &'static str, location: SourceLoc, source: Box<ShapeError> },
    #[error("input `{name}` is declared twice: at {first} and at {second}")]
    DuplicateInput { name: String, first: SourceLoc, second: SourceLoc },
    #[error(
        "weight `{name}` is declared twice with different types: {first_type} at {first} and {second_type} at {second}"
    )]
    DuplicateWeight { name: String, first_type: String, second_type: String, first: SourceLoc, second: SourceLoc },
    #[error("output `{name}` is declared twice (at {location})")]
    DuplicateOutput { name: String, location: SourceLoc },
    #[error("{op} at {location}: an operand belongs to graph `{other}`, not to `{graph}`")]
    ForeignValue { op: &'static str, location: SourceLoc, graph: String, other: String },
    #[error("constant at {location}: {source}")]
    Constant { location: SourceLoc, source: TensorError },
    #[error("graph `{graph}` has no outputs; declare them with Graph::output")]
    NoOutputs { graph: String },
    #[error("graph edit: {detail}")]
    Edit { detail: String },
    #[error("{} while building graph `{graph}`:\n{}", plural(errors.len()), list(errors))]
    Build { graph: String, errors: Vec<GraphError> },
    #[error("verifier: node %{node} ({op}, built at {location}): {detail}")]
    Verify { node: usize, op: &'static str, location: SourceLoc, detail: String },
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
    #[error("missing input `{name}` ({expected}); the graph takes: {}", takes.join(", "))]
    Missing { name: String, expected: String, takes: Vec<String> },
    #[error("unknown input `{name}`; the graph takes: {}", takes.join(", "))]
    Unknown { name: String, takes: Vec<String> },
    #[error("input `{name}` has dtype {got}, expected {expected}{}", fmt_hint(dtype_hint(*expected, *got)))]
    DType { name: String, expected: DType, got: DType },
    #[error("input `{name}` has rank {got} (shape {got_shape:?}), expected rank {expected} ({})", sh(declared))]
    Rank { name: String, expected: usize, got: usize, got_shape: Vec<usize>, declared: Vec<Dim> },
    #[error("input `{name}` axis {axis} has size {got}, expected {expected} (shape {got_shape:?})")]
    Size { name: String, axis: usize, expected: usize, got: usize, got_shape: Vec<usize> },
    #[error(
        "symbolic dim `{symbol}` is {first} from `{first_input}` but {second} from `{second_input}` (axis {axis})"
    )]
    Conflict { symbol: String, first: usize, first_input: String, second: usize, second_input: String, axis: usize },
    #[error("input `{name}` axis {axis}: dim `{dim}` cannot be computed from the other inputs")]
    Unsolvable { name: String, axis: usize, dim: Dim },
    #[error("symbol `{symbol}` used by the graph is bound by no input")]
    Unbound { symbol: String },
}

fn dtype_hint(expected: DType, _got: DType) -> Option<String> {
    Some(format!("convert it with Tensor::cast(DType::{expected:?}) (integer inputs of any width are accepted)"))
}
