//! Scatter-add, the adjoint of gather: update rows summed into the output
//! rows their indices name. Sums run in f64 (exact wrapping i64 for
//! integers) in increasing index position, the order the GPU kernel adds in.

use crate::graph::Tensor;

/// `out[o, j, q] = sum over m with indices[m] == j of updates[o, m, q]`,
/// where `o` flattens the axes before `axis`, `m` the index axes and `q`
/// the axes after them. The caller has checked every index is below
/// `out_shape[axis]`.
pub fn scatter_add(updates: &Tensor, indices: &[usize], axis: usize, out_shape: &[usize]) -> Tensor {
    let outer: usize = out_shape[..axis].iter().product();
    let size = out_shape[axis];
    let inner: usize = out_shape[axis + 1..].iter().product();
    let count = indices.len();
    // Row `m` of block `o` of the updates, and row `j` of block `o` of the output.
    let src = |o: usize, m: usize| (o * count + m) * inner;
    let dst = |o: usize, j: usize| (o * size + j) * inner;
    let total = outer * size * inner;
    if updates.dtype().is_float() {
        let u = updates.to_f64_vec();
        let mut out = vec![0.0f64; total];
        for o in 0..outer {
            for (m, &j) in indices.iter().enumerate() {
                let (s, d) = (src(o, m), dst(o, j));
                for q in 0..inner {
                    out[d + q] += u[s + q];
                }
            }
        }
        return Tensor::from_f64_unchecked(updates.dtype(), out_shape.to_vec(), &out);
    }
    let u = updates.to_i64_vec();
    let mut out = vec![0i64; total];
    for o in 0..outer {
        for (m, &j) in indices.iter().enumerate() {
            let (s, d) = (src(o, m), dst(o, j));
            for q in 0..inner {
                out[d + q] = out[d + q].wrapping_add(u[s + q]);
            }
        }
    }
    Tensor::from_i64_unchecked(updates.dtype(), out_shape.to_vec(), &out)
}
