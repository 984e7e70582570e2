//! Errors of training: the layer that refused, or what the trainer itself
//! found wrong.

use crate::autodiff::AutodiffError;
use crate::graph::GraphError;
use crate::optim::OptimError;
use crate::runtime::{LoadError, RuntimeError};
use crate::weights::WeightError;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TrainError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Autodiff(#[from] AutodiffError),
    #[error(transparent)]
    Optim(#[from] OptimError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error(transparent)]
    Weights(#[from] WeightError),
    #[error("training needs at least one parameter, and `{graph}` has no float weights{}", hint.map(|h| format!("\n  hint: {h}")).unwrap_or_default())]
    NoParameters { graph: String, hint: Option<&'static str> },
    #[error("`{name}` is not a weight of the graph (parameters are `Graph::weight` values); it is a {op}")]
    NotAWeight { name: String, op: &'static str },
    #[error("the training step did not return `loss` (a wgraph bug)")]
    NoLoss,
    #[error("saved state `{path}`: {detail}")]
    State { path: String, detail: String },
}
