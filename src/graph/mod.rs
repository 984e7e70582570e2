//! The graph IR and its builder. Free of any GPU dependency.

mod arith;
mod axis;
mod bind;
mod builder;
pub mod dim;
mod dtype;
mod edit;
mod error;
mod infer;
mod ir;
mod listing;
mod named;
mod op;
pub mod ops;
mod quant;
mod scope;
mod tensor;

pub use bind::{bind_inputs, BoundInputs};
pub use builder::{Graph, Value};
pub use dim::{Bindings, Dim, ShapeDisplay, Symbol};
pub use dtype::DType;
pub use error::{BindError, GraphError, ShapeError, SourceLoc};
pub use infer::{broadcast, infer, TensorType};
pub use ir::{DimLimit, Edge, Ir, Node, NodeId};
pub use listing::{dump_dot, dump_json, dump_text, DumpFormat};
pub use named::NamedTensors;
pub use op::{BinaryOp, CompareOp, Gelu, Op, OpFamily, ReduceOp, RowOp, SourceKind, UnaryOp};
pub use quant::Quant;
pub use scope::Scope;
pub use tensor::{Element, Tensor, TensorData, TensorError};
