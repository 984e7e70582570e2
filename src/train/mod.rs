//! Training on the GPU: a [`Trainer`] compiles one training step (forward,
//! backward, clipping, optimizer update) into one program, keeps the
//! parameters and optimizer state in device buffers, and runs each step as
//! one submission that reads back only the loss.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use wgraph::optim::{OptimizerConfig, Recipe};
//! use wgraph::train::Trainer;
//! use wgraph::{autodiff, ops, DType, Device, Graph, Tensor, Weights};
//! let g = Graph::new("fit");
//! let x = g.input("x", DType::F32, [4, 3]);
//! let y = g.input("y", DType::F32, [4, 2]);
//! let w = g.weight("w", DType::F32, [3, 2]);
//! let loss = autodiff::loss::mse_loss(&ops::matmul(&x, &w), &y);
//! let weights = Weights::from_tensors([("w", Tensor::zeros(DType::F32, [3, 2])?)]);
//! let device = Device::new()?;
//! let mut trainer = Trainer::new(&device, &loss, &[], &weights, Recipe::new(OptimizerConfig::default()))?;
//! let batch = vec![("x", Tensor::zeros(DType::F32, [4, 3])?), ("y", Tensor::zeros(DType::F32, [4, 2])?)];
//! let loss = trainer.step(batch)?;
//! # Ok(()) }
//! ```

pub mod doctor;
mod error;
mod state_file;
mod trainer;

pub use doctor::{Diagnosis, DoctorOptions, Finding};
pub use error::TrainError;
pub use trainer::Trainer;
