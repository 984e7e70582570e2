//! Gradients of the movement ops that are not their own inverse: slices
//! scatter back into zeros, concatenations split, gathers scatter-add.

use super::unbroadcast::zeros;
use crate::graph::{ops, Dim, Value};

/// `g` placed at positions `start, start + step, ...` along `axis` of a
/// zero tensor whose `axis` has length `full` (the inverse of a strided
/// slice). Step 1 is a concat with zero blocks; a larger step first
/// interleaves `step - 1` zeros after every element (unsqueeze, concat,
/// reshape) and drops the trailing ones with a slice.
pub(crate) fn scatter_strided(g: &Value, axis: usize, start: &Dim, step: usize, full: &Dim) -> Value {
    let shape = g.shape();
    let len = shape[axis].clone();
    let with_axis = |n: Dim| {
        let mut s = shape.clone();
        s[axis] = n;
        s
    };
    if len.as_static() == Some(0) {
        return zeros(g, g.dtype(), &with_axis(full.clone()));
    }
    let spread = if step == 1 {
        g.clone()
    } else {
        let mut gap = shape.clone();
        gap.insert(axis + 1, Dim::new(step - 1));
        let pairs =
            ops::concat(&[&ops::unsqueeze(g, axis as isize + 1), &zeros(g, g.dtype(), &gap)], axis as isize + 1);
        let flat = ops::reshape(&pairs, with_axis(&len * &Dim::new(step)));
        let covered = &(&len * &Dim::new(step)) - &Dim::new(step - 1);
        ops::slice(&flat, axis as isize, 0, covered)
    };
    let after = &(full - start) - &spread.shape()[axis];
    let mut parts = Vec::new();
    if start.as_static() != Some(0) {
        parts.push(zeros(g, g.dtype(), &with_axis(start.clone())));
    }
    parts.push(spread);
    if after.as_static() != Some(0) {
        parts.push(zeros(g, g.dtype(), &with_axis(after)));
    }
    if parts.len() == 1 {
        return parts.pop().unwrap_or_else(|| g.clone());
    }
    let refs: Vec<&Value> = parts.iter().collect();
    ops::concat(&refs, axis as isize)
}

/// Each operand of a concat gets its stretch of `g`.
pub(crate) fn concat_vjp(xs: &[Value], axis: usize, g: &Value, wants: &[bool]) -> Vec<Option<Value>> {
    let mut start = Dim::new(0);
    xs.iter()
        .zip(wants)
        .map(|(x, &want)| {
            let end = &start + &x.shape()[axis];
            let piece = want.then(|| ops::slice(g, axis as isize, start.clone(), end.clone()));
            start = end;
            piece
        })
        .collect()
}

/// The gradient of `take(data, indices, axis)` with respect to `data`: every
/// row of `g` is added into the row of `data` its index picked, repeated
/// indices accumulating, in index order ([`ops::scatter_add`]: no one-hot
/// `indices x rows` matrix, and deterministic on the GPU).
pub(crate) fn gather_vjp(data: &Value, indices: &Value, axis: usize, g: &Value) -> Value {
    ops::scatter_add(g, indices, axis as isize, &data.shape()[axis])
}
