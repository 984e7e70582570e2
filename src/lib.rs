//! wgraph: a GPU compute-graph compiler for wgpu.
//!
//! Build a model as a typed [`Graph`] with [`ops`], check its weights against
//! a safetensors [`Weights`] registry before any GPU work, and run it on the
//! CPU reference [`Interpreter`].

pub mod graph;
pub mod interp;
pub mod weights;

pub use graph::{ops, BindError, DType, Dim, Gelu, Graph, GraphError, NamedTensors, Tensor, TensorType, Value};
pub use interp::{InterpError, Interpreter, Trace};
pub use weights::{CheckedWeights, WeightError, Weights};
