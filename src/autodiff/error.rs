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

    /// The loss has more than one element (gradients are of one number).
    #[error(
        "the loss {value} ({op} at {location}) has type {ty}, not a scalar\n  \
         hint: reduce it to one number first (ops::mean or ops::sum over every axis, or a loss such as \
         autodiff::cross_entropy); shape [] or all dims 1 is a scalar"
    )]
    LossNotScalar {
        /// The loss, named as in every autodiff message.
        value: String,
        /// The op that computes it.
        op: &'static str,
        /// The model line that built it.
        location: SourceLoc,
        /// Its type (`f32[batch]`).
        ty: String,
    },

    /// The loss is an integer or bool value.
    #[error(
        "the loss {value} ({op} at {location}) has dtype {dtype}; only float values have gradients\n  \
         hint: cast the loss to a float dtype, or differentiate a float loss computed from it"
    )]
    LossNotFloat {
        /// The loss.
        value: String,
        /// The op that computes it.
        op: &'static str,
        /// The model line that built it.
        location: SourceLoc,
        /// Its dtype.
        dtype: crate::DType,
    },

    /// A parameter is an integer or bool value (token ids, masks).
    #[error(
        "cannot differentiate with respect to {value} ({op} at {location}): its dtype {dtype} is not a float\n  \
         hint: integer and bool values (token ids, labels, masks, indices) have no gradient; \
         differentiate with respect to the float parameters that read them"
    )]
    NotFloat {
        /// The parameter.
        value: String,
        /// The op that computes it.
        op: &'static str,
        /// The model line that built it.
        location: SourceLoc,
        /// Its dtype.
        dtype: crate::DType,
    },

    /// A parameter belongs to another graph than the loss.
    #[error(
        "{value} belongs to graph `{other}`, not to the loss's graph `{graph}`\n  \
         hint: gradients are taken within one graph; declare the parameter in the loss's graph"
    )]
    ForeignValue {
        /// The parameter.
        value: String,
        /// The loss's graph.
        graph: String,
        /// The parameter's graph.
        other: String,
    },

    /// An op's backward rule built an invalid op: a wgraph bug in that rule.
    #[error(
        "building the gradient of {value} ({op} at {location}) failed: {source}\n  \
         hint: the forward op is valid, so this is a missing case in autodiff's rule for `{op}`; \
         please report it with this message"
    )]
    Rule {
        /// The forward value whose gradient failed.
        value: String,
        /// Its op.
        op: &'static str,
        /// The model line that built it.
        location: SourceLoc,
        /// The error the backward op recorded.
        source: Box<GraphError>,
    },
}
