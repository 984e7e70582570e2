//! wgraph: a GPU compute-graph compiler for wgpu.
//!
//! Build a model as a typed [`Graph`] with [`ops`], check its weights against
//! a safetensors [`Weights`] registry before any GPU work, and run it on the
//! CPU reference [`Interpreter`].

pub mod autodiff;
pub mod compile;
pub mod debug;
pub mod graph;
pub mod interp;
pub mod io;
pub mod optim;
pub mod runtime;
pub mod settings;
pub mod train;
pub mod weights;

pub use autodiff::{AutodiffError, Gradients};
pub use compile::{CompileError, CompileOptions, Program, Target};
pub use graph::{ops, BindError, DType, Dim, Gelu, Graph, GraphError, NamedTensors, Tensor, TensorType, Value};
pub use interp::{InterpError, Interpreter, Trace};
pub use optim::{OptimError, OptimizerConfig, Recipe};
pub use runtime::{Compiler, Device, LoadError, Model, RuntimeError};
pub use settings::Settings;
pub use weights::{CheckedWeights, WeightError, Weights};
