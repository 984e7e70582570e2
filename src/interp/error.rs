//! Errors of the reference interpreter.

use crate::graph::{BindError, GraphError, SourceLoc, TensorError};
use crate::weights::WeightError;
use thiserror::Error;

/// Why the interpreter could not run a graph: the layer that refused, or
/// the node whose values were invalid.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum InterpError {
    /// The graph has build errors, or fails verification.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The weights do not match the graph (the one-report check), or one could not be read.
    #[error(transparent)]
    Weights(#[from] WeightError),
    /// The inputs do not match the graph's declared inputs.
    #[error(transparent)]
    Input(#[from] BindError),
    /// A node's operands are valid types but invalid values (an index out of
    /// range, a slice past the end of a symbolic axis).
    #[error("node %{node} ({op}, built at {location}): {fault}")]
    Node {
        /// The node's index.
        node: usize,
        /// Its op's name.
        op: &'static str,
        /// The model line that built it.
        location: SourceLoc,
        /// What went wrong.
        fault: NodeFault,
    },
}

/// What went wrong at one node.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum NodeFault {
    /// A dim of the node's shape evaluates to nothing under the inputs' sizes
    /// (a negative size, such as `seq - 1` with `seq = 0`).
    #[error("dim `{dim}` has no size under the bound inputs")]
    UnboundDim {
        /// The dim, printed.
        dim: String,
    },
    /// A gather or scatter-add index lies outside the indexed axis (a token
    /// id past the vocabulary).
    #[error("index {index} is out of range for axis {axis} of size {size}")]
    IndexOutOfRange {
        /// The offending index.
        index: i64,
        /// The data axis indexed.
        axis: usize,
        /// That axis's size.
        size: usize,
    },
    /// Symbolic slice bounds evaluate outside the axis for these inputs.
    #[error("slice {start}..{end} does not fit axis {axis} of size {size}")]
    SliceOutOfRange {
        /// The start, evaluated.
        start: usize,
        /// The end, evaluated.
        end: usize,
        /// The sliced axis.
        axis: usize,
        /// That axis's size.
        size: usize,
    },
    /// A result tensor could not be formed from its values.
    #[error(transparent)]
    Tensor(#[from] TensorError),
    /// An input node has no bound tensor (an interpreter bug: binding checks first).
    #[error("the input was not bound")]
    InputNotBound,
    /// An operand's value was dropped or never computed (an interpreter bug).
    #[error("an operand was not computed")]
    OperandMissing,
    /// An output's value is missing at the end of the run (an interpreter bug).
    #[error("output `{output}` was not computed")]
    OutputMissing {
        /// The output's name.
        output: String,
    },
    /// A node computed another dtype or shape than inference gave it (an interpreter bug).
    #[error("computed {got} but the graph says {expected} (an interpreter bug)")]
    WrongResult {
        /// What was computed (`f32[2, 3]`).
        got: String,
        /// What the graph says.
        expected: String,
    },
    /// An input or weight was handed to the op evaluator, which only computes (an interpreter bug).
    #[error("a stored value (input or weight) reached the op evaluator (an interpreter bug)")]
    SourceEvaluated,
}
