//! Errors of the reference interpreter.

use crate::graph::{BindError, GraphError, SourceLoc, TensorError};
use crate::weights::WeightError;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InterpError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Weights(#[from] WeightError),
    #[error(transparent)]
    Input(#[from] BindError),
    /// A node's operands are valid types but invalid values (an index out of
    /// range, a slice past the end of a symbolic axis).
    #[error("node %{node} ({op}, built at {location}): {fault}")]
    Node { node: usize, op: &'static str, location: SourceLoc, fault: NodeFault },
}

/// What went wrong at one node.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum NodeFault {
    #[error("dim `{dim}` has no size under the bound inputs")]
    UnboundDim { dim: String },
    #[error("index {index} is out of range for axis {axis} of size {size}")]
    IndexOutOfRange { index: i64, axis: usize, size: usize },
    #[error("slice {start}..{end} does not fit axis {axis} of size {size}")]
    SliceOutOfRange { start: usize, end: usize, axis: usize, size: usize },
    #[error(transparent)]
    Tensor(#[from] TensorError),
    #[error("the input was not bound")]
    InputNotBound,
    #[error("an operand was not computed")]
    OperandMissing,
    #[error("output `{output}` was not computed")]
    OutputMissing { output: String },
    #[error("computed {got} but the graph says {expected} (an interpreter bug)")]
    WrongResult { got: String, expected: String },
    #[error("a stored value (input or weight) reached the op evaluator (an interpreter bug)")]
    SourceEvaluated,
}
