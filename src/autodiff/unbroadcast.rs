//! The one helper that undoes broadcasting: a gradient computed in a
//! broadcast output's shape is summed over the axes the operand was
//! broadcast along, giving the operand's shape. Every rule whose operands
//! broadcast (elementwise binaries, `where`, `expand`, matmul batch dims,
//! norm parameters) ends with it.

use crate::graph::{ops, DType, Dim, Value};

/// Sums `grad` (of a shape `target` broadcasts to) back to `target`:
/// leading axes `target` lacks are summed away, and axes where `target` has
/// size 1 but `grad` does not are summed keeping the axis.
#[track_caller]
pub fn unbroadcast(grad: &Value, target: &[Dim]) -> Value {
    let shape = grad.shape();
    if shape == target {
        return grad.clone();
    }
    let extra = shape.len().saturating_sub(target.len());
    let mut g = grad.clone();
    for _ in 0..extra {
        g = ops::sum(&g, 0, false);
    }
    let one = Dim::new(1);
    for (axis, want) in target.iter().enumerate() {
        let have = &shape[extra + axis];
        if *want == one && *have != one {
            g = ops::sum(&g, axis as isize, true);
        }
    }
    g
}

/// A tensor of zeros of `dtype` and `shape` (symbolic dims allowed): a
/// scalar constant expanded, which fusion reads without a buffer.
#[track_caller]
pub fn zeros(like: &Value, dtype: DType, shape: &[Dim]) -> Value {
    let z = ops::scalar(like.graph(), 0.0, dtype);
    ops::expand(&z, shape.to_vec())
}

/// Zeros with `x`'s dtype and shape.
#[track_caller]
pub fn zeros_like(x: &Value) -> Value {
    zeros(x, x.dtype(), &x.shape())
}
