//! Errors of training: the layer that refused, or what the trainer itself
//! found wrong.

use crate::autodiff::AutodiffError;
use crate::graph::GraphError;
use crate::optim::OptimError;
use crate::runtime::{LoadError, RuntimeError};
use crate::weights::WeightError;
use thiserror::Error;

/// Why a trainer could not be built or a step could not run.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TrainError {
    /// The graph has build errors.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The gradients could not be built (a non-scalar loss, an integer parameter).
    #[error(transparent)]
    Autodiff(#[from] AutodiffError),
    /// The optimizer settings are invalid.
    #[error(transparent)]
    Optim(#[from] OptimError),
    /// Compiling the training step failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// A step failed on the device (bad batch, GPU error).
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The initial weights do not match the graph.
    #[error(transparent)]
    Weights(#[from] WeightError),
    /// Nothing to train.
    #[error("training needs at least one parameter, and `{graph}` has no float weights{}", hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    NoParameters {
        /// The graph being built.
        graph: String,
        /// What to do about it.
        hint: Option<&'static str>,
    },
    /// A parameter given is not a weight.
    #[error("`{name}` is not a weight of the graph (parameters are `Graph::weight` values); it is a {op}")]
    NotAWeight {
        /// The name in question.
        name: String,
        /// Its op.
        op: &'static str,
    },
    /// The compiled step lost its loss output (a wgraph bug).
    #[error("the training step did not return `loss` (a wgraph bug)")]
    NoLoss,
    /// The doctor could not run a check (a probe naming no value, a failed search).
    #[error("doctor: {detail}")]
    Doctor {
        /// What went wrong.
        detail: String,
    },
    /// A saved state file is unreadable or incomplete.
    #[error("saved state `{path}`: {detail}")]
    State {
        /// The file.
        path: String,
        /// What is wrong with it.
        detail: String,
    },
}
