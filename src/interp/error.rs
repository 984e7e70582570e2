//! Errors of the reference interpreter.

use crate::graph::{BindError, GraphError, SourceLoc};
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
    #[error("node %{node} ({op}, built at {location}): {detail}")]
    Node { node: usize, op: &'static str, location: SourceLoc, detail: String },
}
