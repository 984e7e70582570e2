//! The GPU runtime: a compiled [`Program`](crate::compile::Program) on a
//! [`Device`]: device selection, pipelines, buffers, execution, readback.

mod device;
mod disk_cache;
#[cfg(not(target_arch = "wasm32"))]
mod driver_compiled;
mod error;
mod index_check;
mod instance;
mod loader;
pub mod machine;
mod model;
mod pipeline_cache;
mod pipelines;
#[cfg(not(target_arch = "wasm32"))]
mod profile;
mod readback;
mod texture_fill;
#[cfg(not(target_arch = "wasm32"))]
mod tier_sync;
#[cfg(not(target_arch = "wasm32"))]
mod tiered;
#[cfg(not(target_arch = "wasm32"))]
mod timestamps;
mod transfer;
pub mod tune;
mod upload;
mod validated;
#[cfg(not(target_arch = "wasm32"))]
mod warm_up;
mod weight_access;

pub use crate::compile::AdapterKind;
pub use device::Device;
pub use disk_cache::PipelineCacheStatus;
pub use error::RuntimeError;
pub use loader::{LoadError, Loader};
pub use model::Model;
#[cfg(not(target_arch = "wasm32"))]
pub use profile::{by_kind, kernel_kind, KernelTime};
#[cfg(not(target_arch = "wasm32"))]
pub use tiered::TieredModel;
#[cfg(not(target_arch = "wasm32"))]
pub use tune::{TunedMatmul, Tuner};
