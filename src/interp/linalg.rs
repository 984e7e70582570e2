//! Matrix multiply and 1-D convolution, accumulating in f64.

use super::layout::{broadcast_offsets, strides};
use crate::graph::Tensor;

/// `[..., m, k] x [..., k, n]` with broadcast batch dims; `out_shape` is the
/// inferred output shape.
pub fn matmul(a: &Tensor, b: &Tensor, out_shape: &[usize]) -> Tensor {
    let (ar, br, or) = (a.shape().len(), b.shape().len(), out_shape.len());
    let (m, k, n) = (a.shape()[ar - 2], a.shape()[ar - 1], b.shape()[br - 1]);
    let batch_shape = &out_shape[..or - 2];
    // Offsets of each batch's matrix, in matrices (not elements).
    let a_batches = broadcast_offsets(&a.shape()[..ar - 2], batch_shape);
    let b_batches = broadcast_offsets(&b.shape()[..br - 2], batch_shape);
    let (va, vb) = (a.to_f64_vec(), b.to_f64_vec());
    let mut out = Vec::with_capacity(a_batches.len() * m * n);
    for (&ab, &bb) in a_batches.iter().zip(&b_batches) {
        let (a0, b0) = (ab * m * k, bb * k * n);
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0.0f64;
                for p in 0..k {
                    acc += va[a0 + i * k + p] * vb[b0 + p * n + j];
                }
                out.push(acc);
            }
        }
    }
    Tensor::from_f64_unchecked(a.dtype(), out_shape.to_vec(), &out)
}

/// PyTorch `conv1d` with zero padding: x `[batch, c_in, len]`, w
/// `[c_out, c_in/groups, k]`, optional bias `[c_out]`.
pub fn conv1d(
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
    (stride, padding, dilation, groups): (usize, usize, usize, usize),
    out_shape: &[usize],
) -> Tensor {
    let (batch, c_in, len) = (x.shape()[0], x.shape()[1], x.shape()[2]);
    let (c_out, c_per_group, k) = (w.shape()[0], w.shape()[1], w.shape()[2]);
    let out_len = out_shape[2];
    let out_per_group = c_out / groups;
    let (vx, vw) = (x.to_f64_vec(), w.to_f64_vec());
    let vb = bias.map(|b| b.to_f64_vec());
    let (xs, ws) = (strides(x.shape()), strides(w.shape()));
    let mut out = Vec::with_capacity(batch * c_out * out_len);
    for nb in 0..batch {
        for co in 0..c_out {
            let g = co / out_per_group;
            for t in 0..out_len {
                let mut acc = vb.as_ref().map_or(0.0, |b| b[co]);
                for ci in 0..c_per_group {
                    let cx = g * c_per_group + ci;
                    for kk in 0..k {
                        // Position in the unpadded input; outside it reads zero.
                        let pos = (t * stride + kk * dilation) as isize - padding as isize;
                        if pos >= 0 && (pos as usize) < len {
                            acc += vx[nb * xs[0] + cx * xs[1] + pos as usize] * vw[co * ws[0] + ci * ws[1] + kk];
                        }
                    }
                }
                out.push(acc);
            }
        }
    }
    debug_assert_eq!(c_in, c_per_group * groups);
    Tensor::from_f64_unchecked(x.dtype(), out_shape.to_vec(), &out)
}
