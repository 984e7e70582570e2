//! The small checks and shape helpers the inference rules share:
//! broadcasting, reduced shapes, dtype classes, ranks and axes.

use super::types::TensorType;
use crate::graph::dim::Dim;
use crate::graph::dtype::DType;
use crate::graph::error::ShapeError;

/// Numpy broadcasting: align from the right; dims must match or be 1.
pub fn broadcast(lhs: &[Dim], rhs: &[Dim]) -> Result<Vec<Dim>, ShapeError> {
    let rank = lhs.len().max(rhs.len());
    let one = Dim::new(1);
    let mut out = Vec::with_capacity(rank);
    for i in 0..rank {
        let a = (i + lhs.len()).checked_sub(rank).map_or(&one, |j| &lhs[j]);
        let b = (i + rhs.len()).checked_sub(rank).map_or(&one, |j| &rhs[j]);
        let d = if a == b || b == &one {
            a
        } else if a == &one {
            b
        } else {
            return Err(ShapeError::Broadcast { lhs: lhs.to_vec(), rhs: rhs.to_vec(), a: a.clone(), b: b.clone() });
        };
        out.push(d.clone());
    }
    Ok(out)
}

pub(super) fn reduced(shape: &[Dim], axis: usize, keep_dim: bool) -> Vec<Dim> {
    let mut out = shape.to_vec();
    if keep_dim {
        out[axis] = Dim::new(1);
    } else {
        out.remove(axis);
    }
    out
}

pub(super) fn need(
    t: &TensorType,
    operand: &'static str,
    expected: &'static str,
    ok: fn(DType) -> bool,
) -> Result<(), ShapeError> {
    if ok(t.dtype) {
        Ok(())
    } else {
        Err(ShapeError::DTypeClass { operand, expected, got: t.dtype })
    }
}

pub(super) fn same_dtype(a: &TensorType, b: &TensorType) -> Result<(), ShapeError> {
    if a.dtype == b.dtype {
        Ok(())
    } else {
        Err(ShapeError::DTypeMismatch { lhs: a.dtype, rhs: b.dtype })
    }
}

pub(super) fn min_rank(t: &TensorType, operand: &'static str, min: usize) -> Result<(), ShapeError> {
    if t.rank() >= min {
        Ok(())
    } else {
        Err(ShapeError::Rank { operand, expected: format!("at least {min}"), got: t.rank(), shape: t.shape.clone() })
    }
}

pub(super) fn exact_rank(t: &TensorType, operand: &'static str, rank: usize) -> Result<(), ShapeError> {
    if t.rank() == rank {
        Ok(())
    } else {
        Err(ShapeError::Rank { operand, expected: rank.to_string(), got: t.rank(), shape: t.shape.clone() })
    }
}

pub(super) fn check_axis(axis: usize, rank: usize) -> Result<(), ShapeError> {
    if axis < rank {
        Ok(())
    } else {
        Err(ShapeError::Axis { axis: axis as isize, rank })
    }
}
