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
pub mod runtime;
pub mod weights;

pub use autodiff::{AutodiffError, Gradients};
pub use compile::{CompileError, CompileOptions, Compiler};
pub use graph::{ops, BindError, DType, Dim, Gelu, Graph, GraphError, NamedTensors, Tensor, TensorType, Value};
pub use interp::{InterpError, Interpreter, Trace};
pub use runtime::{Device, Model, RuntimeError};
pub use weights::{CheckedWeights, WeightError, Weights};

/// The `WGRAPH_DEBUG` level: 1 passes and timings, 2 one line per dispatch,
/// 3 the IR after each pass, 4 every WGSL kernel.
pub fn debug_level() -> u32 {
    std::env::var("WGRAPH_DEBUG").ok().and_then(|v| v.parse().ok()).unwrap_or(0)
}
