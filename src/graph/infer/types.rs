//! The static type of a value: what shape inference computes.

use crate::graph::dim::{Dim, ShapeDisplay};
use crate::graph::dtype::DType;
use serde::Serialize;
use std::fmt;

/// The static type of a value: element type and (possibly symbolic) shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TensorType {
    /// The element type.
    pub dtype: DType,
    /// The shape, outermost axis first; dims may be symbolic (`batch`, `seq + 1`).
    pub shape: Vec<Dim>,
}

impl TensorType {
    /// A type from its parts.
    pub fn new(dtype: DType, shape: Vec<Dim>) -> TensorType {
        TensorType { dtype, shape }
    }

    /// The number of axes.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, ShapeDisplay(&self.shape))
    }
}
