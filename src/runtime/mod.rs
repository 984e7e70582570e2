//! The GPU runtime: device selection, buffers, execution, readback.

mod device;
mod error;
mod instance;
mod model;
mod pipelines;
mod transfer;

pub use device::{AdapterKind, Device};
pub use error::RuntimeError;
pub use model::Model;
