//! Errors of the autodiff layer. Each names the value (its HF module path,
//! input or weight name when it has one, else `%node`), the op, the Rust line
//! that built it, and a hint.

use crate::graph::{GraphError, SourceLoc};
use thiserror::Error;

/// Why gradients could not be built.
#[derive(Debug, Error, Clone, PartialEq)]
#[non_exhaustive]
pub enum AutodiffError {
    /// The loss or a parameter is poisoned, or the graph has build errors.
    #[error("the graph has build errors, fix them before differentiating: {0}")]
    Graph(#[from] GraphError),

    #[error(
        "the loss {value} ({op} at {location}) has type {ty}, not a scalar\n  \
         hint: reduce it to one number first (ops::mean or ops::sum over every axis, or a loss such as \
         autodiff::cross_entropy); shape [] or all dims 1 is a scalar"
    )]
    LossNotScalar { value: String, op: &'static str, location: SourceLoc, ty: String },

    #[error(
        "the loss {value} ({op} at {location}) has dtype {dtype}; only float values have gradients\n  \
         hint: cast the loss to a float dtype, or differentiate a float loss computed from it"
    )]
    LossNotFloat { value: String, op: &'static str, location: SourceLoc, dtype: crate::DType },

    #[error(
        "cannot differentiate with respect to {value} ({op} at {location}): its dtype {dtype} is not a float\n  \
         hint: integer and bool values (token ids, labels, masks, indices) have no gradient; \
         differentiate with respect to the float parameters that read them"
    )]
    NotFloat { value: String, op: &'static str, location: SourceLoc, dtype: crate::DType },

    #[error(
        "{value} belongs to graph `{other}`, not to the loss's graph `{graph}`\n  \
         hint: gradients are taken within one graph; declare the parameter in the loss's graph"
    )]
    ForeignValue { value: String, graph: String, other: String },

    #[error(
        "building the gradient of {value} ({op} at {location}) failed: {source}\n  \
         hint: the forward op is valid, so this is a missing case in autodiff's rule for `{op}`; \
         please report it with this message"
    )]
    Rule { value: String, op: &'static str, location: SourceLoc, source: Box<GraphError> },
}
