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
    if extra > 1 {
        // Several leading axes are one reduction over their product (a
        // reshape of leading axes is a view): one kernel walking `batch *
        // seq` rows, not a reduction per axis with a tensor in between.
        let mut merged = vec![Dim::product(&shape[..extra])];
        merged.extend_from_slice(&shape[extra..]);
        g = ops::reshape(&g, merged);
    }
    if extra > 0 {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Graph;

    #[test]
    fn sums_leading_and_size_one_axes() {
        let g = Graph::new("unbroadcast");
        let grad = g.input("g", DType::F32, [Dim::new(4), Dim::sym("seq"), Dim::new(3)]);
        let shape = |s: &[Dim]| unbroadcast(&grad, s).shape();
        assert_eq!(shape(&[Dim::new(3)]), [Dim::new(3)]);
        assert_eq!(shape(&[Dim::new(1), Dim::new(3)]), [Dim::new(1), Dim::new(3)]);
        assert_eq!(shape(&[Dim::sym("seq"), Dim::new(1)]), [Dim::sym("seq"), Dim::new(1)]);
        assert_eq!(shape(&[]), Vec::<Dim>::new());
        // Already the right shape: the same value, no new node.
        let same = unbroadcast(&grad, &grad.shape());
        assert_eq!(same.node_id(), grad.node_id());
        assert!(g.errors().is_empty(), "{:?}", g.errors());
    }
}
