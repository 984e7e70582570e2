//! The op builders. Each checks its operands when called and records any
//! error with the caller's line (see [`Graph`] for how errors flow). Axes
//! may be negative, counting from the end.
//!
//! Every op has an example: its own one-liner, or for the elementwise family
//! the shared one below. The examples print shapes with `{:?}`, which shows
//! dims as the dumps do (`[batch, seq, 768]`).
//!
//! # Elementwise
//!
//! Unary functions ([`exp`], [`gelu`], [`not`], ...), binary arithmetic
//! ([`add`], [`div`], [`maximum`], ...; also `+ - * /` and unary `-` on
//! [`Value`]s and `f64`s), comparisons ([`eq`], [`lt`], ...), [`select`] and
//! [`cast`]. Operands broadcast as in numpy (trailing axes aligned, size 1
//! stretched) and share one dtype: there is no implicit promotion, so convert
//! with [`cast`]. The result has the broadcast shape; comparisons give bool.
//!
//! ```
//! use wgraph::{ops, DType, Graph, Interpreter, Tensor, Weights};
//! let g = Graph::new("elementwise");
//! let x = g.input("x", DType::F32, [2usize, 3]);
//! let shift = g.input("shift", DType::F32, [3usize]);
//! let y = ops::relu(&(&x - &shift)) * 2.0; // [2, 3] - [3] broadcasts to [2, 3]
//! let big = ops::gt(&y, &ops::scalar(&g, 3.0, DType::F32));
//! let z = ops::select(&big, &ops::neg(&y), &y);
//! assert_eq!((format!("{:?}", z.shape()), big.dtype()), ("[2, 3]".to_string(), DType::Bool));
//! g.output_named([("z", &z), ("big", &ops::cast(&big, DType::I32))])?;
//! let x = Tensor::new([2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?;
//! let shift = Tensor::new([3], vec![1.0f32, 1.0, 1.0])?;
//! let out = Interpreter::new().run(&g, &Weights::new(), [("x", x), ("shift", shift)])?;
//! assert_eq!(out.get("z").unwrap().to_f32_vec(), [0.0, 2.0, -4.0, -6.0, -8.0, -10.0]);
//! assert_eq!(out.get("big").unwrap().to_i64_vec(), [0, 0, 1, 1, 1, 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// The imports every op family file shares (each starts with `use super::*`).
use crate::graph::axis::resolve_axis;
use crate::graph::builder::{Graph, Value};
use crate::graph::dim::Dim;
use crate::graph::dtype::DType;
use crate::graph::error::ShapeError;
use crate::graph::infer::scatter_rank;
use crate::graph::op::{BinaryOp, CompareOp, Op, ReduceOp, RowOp, UnaryOp};
use crate::graph::tensor::Tensor;

pub use crate::graph::op::Gelu;

fn dims(shape: impl IntoIterator<Item = impl Into<Dim>>) -> Vec<Dim> {
    shape.into_iter().map(Into::into).collect()
}

mod elementwise;
mod linalg;
mod rows;
mod shape;
mod sources;

pub use elementwise::*;
pub use linalg::*;
pub use rows::*;
pub use shape::*;
pub use sources::*;
