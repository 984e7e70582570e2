//! The weight registry: safetensors checkpoints, memory-mapped, checked
//! against a graph's declared weights before any execution.

mod check;
mod error;
pub mod gguf;
mod registry;
mod report;
mod save;
mod suggest;

pub use check::{check_ir, CheckedWeights};
pub use error::WeightError;
pub(crate) use registry::FileBytes;
pub use registry::{TensorInfo, Weights};
pub use report::{UnusedTensor, WeightProblem, WeightReport};
pub use save::{safetensors_bytes, save_safetensors};
pub use suggest::{closest_names, common_prefix, PrefixHint};
