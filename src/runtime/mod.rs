//! The GPU runtime: a compiled [`Program`](crate::compile::Program) on a
//! [`Device`]: device selection, pipelines, buffers, execution, readback.

mod device;
mod disk_cache;
mod driver_compiled;
mod error;
mod index_check;
mod instance;
mod loader;
pub mod machine;
mod model;
mod pipeline_cache;
mod pipelines;
mod profile;
mod texture_fill;
mod tier_sync;
mod tiered;
mod timestamps;
mod transfer;
pub mod tune;
mod upload;
mod validated;
mod warm_up;
mod weight_access;

pub use crate::compile::AdapterKind;
pub use device::Device;
pub use disk_cache::PipelineCacheStatus;
pub use error::RuntimeError;
pub use loader::{LoadError, Loader};
pub use model::Model;
pub use profile::{by_kind, kernel_kind, KernelTime};
pub use tiered::TieredModel;
pub use tune::{TunedMatmul, Tuner};
