//! The row ops ([`RowOp`]): everything that reads a whole row along one
//! axis: the reductions (sum, mean, max, min), argmax, softmax, cumulative
//! sum, LayerNorm and RMSNorm. Each works on an (outer, axis, inner)
//! decomposition and accumulates in f64; [`row`] is the entry.

use super::layout::around_axis;
use crate::graph::{ReduceOp, RowOp, Tensor};

/// Evaluates a row op on its operands (`x`, then gamma and beta for the norms).
pub fn row(op: &RowOp, x: &[&Tensor], out_shape: &[usize]) -> Tensor {
    match *op {
        RowOp::LayerNorm { eps } => layer_norm(x[0], x[1], x[2], eps),
        RowOp::RmsNorm { eps } => rms_norm(x[0], x[1], eps),
        RowOp::LayerNormGrad { eps } => norm_grad(x[0], x[1], x[2], eps, false),
        RowOp::RmsNormGrad { eps } => norm_grad(x[0], x[1], x[2], eps, true),
        RowOp::Softmax { axis } => softmax(x[0], axis),
        RowOp::Reduce { op, axis, .. } => reduce(op, x[0], axis, out_shape),
        RowOp::ArgMax { axis, .. } => argmax(x[0], axis, out_shape),
        RowOp::Cumsum { axis } => cumsum(x[0], axis),
    }
}

/// Running sums along `axis`: f64 for floats, exact i64 for integers.
fn cumsum(x: &Tensor, axis: usize) -> Tensor {
    let shape = x.shape().to_vec();
    if x.dtype().is_float() {
        let mut data = x.to_f64_vec();
        per_lane(&shape, axis, &mut data, |lane| {
            let mut acc = 0.0;
            for v in lane.iter_mut() {
                acc += *v;
                *v = acc;
            }
        });
        return Tensor::from_f64_unchecked(x.dtype(), shape, &data);
    }
    let values = x.to_i64_vec();
    let (outer, n, inner) = around_axis(&shape, axis);
    let mut out = values.clone();
    for o in 0..outer {
        for i in 0..inner {
            let mut acc = 0i64;
            for j in 0..n {
                let k = (o * n + j) * inner + i;
                acc = acc.wrapping_add(values[k]);
                out[k] = acc;
            }
        }
    }
    Tensor::from_i64_unchecked(x.dtype(), shape, &out)
}

/// Applies `f` to every lane (the values along `axis` for one outer/inner
/// position) and writes its results back in place.
fn per_lane(shape: &[usize], axis: usize, data: &mut [f64], mut f: impl FnMut(&mut [f64])) {
    let (outer, n, inner) = around_axis(shape, axis);
    let mut lane = vec![0.0; n];
    for o in 0..outer {
        for i in 0..inner {
            let base = o * n * inner + i;
            for (j, v) in lane.iter_mut().enumerate() {
                *v = data[base + j * inner];
            }
            f(&mut lane);
            for (j, v) in lane.iter().enumerate() {
                data[base + j * inner] = *v;
            }
        }
    }
}

fn reduce(op: ReduceOp, x: &Tensor, axis: usize, out_shape: &[usize]) -> Tensor {
    let (outer, n, inner) = around_axis(x.shape(), axis);
    let mut out = Vec::with_capacity(outer * inner);
    if x.dtype().is_float() {
        let v = x.to_f64_vec();
        for o in 0..outer {
            for i in 0..inner {
                let lane = (0..n).map(|j| v[o * n * inner + j * inner + i]);
                out.push(match op {
                    ReduceOp::Sum => lane.sum(),
                    ReduceOp::Mean => lane.sum::<f64>() / n as f64,
                    ReduceOp::Max => lane.fold(f64::NEG_INFINITY, f64::max),
                    ReduceOp::Min => lane.fold(f64::INFINITY, f64::min),
                });
            }
        }
        Tensor::from_f64_unchecked(x.dtype(), out_shape.to_vec(), &out)
    } else {
        let v = x.to_i64_vec();
        let mut out_i = Vec::with_capacity(outer * inner);
        for o in 0..outer {
            for i in 0..inner {
                let lane = (0..n).map(|j| v[o * n * inner + j * inner + i]);
                out_i.push(match op {
                    ReduceOp::Sum | ReduceOp::Mean => lane.fold(0i64, i64::wrapping_add),
                    ReduceOp::Max => lane.max().unwrap_or(i64::MIN),
                    ReduceOp::Min => lane.min().unwrap_or(i64::MAX),
                });
            }
        }
        Tensor::from_i64_unchecked(x.dtype(), out_shape.to_vec(), &out_i)
    }
}

/// Index of the first maximum (NaN counts as the maximum, as in PyTorch).
fn argmax(x: &Tensor, axis: usize, out_shape: &[usize]) -> Tensor {
    let (outer, n, inner) = around_axis(x.shape(), axis);
    let v = x.to_f64_vec();
    let mut out = Vec::with_capacity(outer * inner);
    for o in 0..outer {
        for i in 0..inner {
            let mut best = 0usize;
            for j in 1..n {
                let (cur, b) = (v[o * n * inner + j * inner + i], v[o * n * inner + best * inner + i]);
                if (cur > b || cur.is_nan()) && !b.is_nan() {
                    best = j;
                }
            }
            out.push(best as i64);
        }
    }
    Tensor::from_i64_unchecked(crate::graph::DType::I64, out_shape.to_vec(), &out)
}

/// Max-subtracted softmax. A lane of all `-inf` gives NaN, as in PyTorch.
fn softmax(x: &Tensor, axis: usize) -> Tensor {
    let mut v = x.to_f64_vec();
    per_lane(x.shape(), axis, &mut v, |lane| {
        let m = lane.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut total = 0.0;
        for a in lane.iter_mut() {
            *a = (*a - m).exp();
            total += *a;
        }
        for a in lane.iter_mut() {
            *a /= total;
        }
    });
    Tensor::from_f64_unchecked(x.dtype(), x.shape().to_vec(), &v)
}

/// LayerNorm over the last axis with biased variance.
fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Tensor {
    let (g, b) = (gamma.to_f64_vec(), beta.to_f64_vec());
    let mut v = x.to_f64_vec();
    let last = x.shape().len() - 1;
    per_lane(x.shape(), last, &mut v, |lane| {
        let n = lane.len() as f64;
        let mean = lane.iter().sum::<f64>() / n;
        let var = lane.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / n;
        let inv = 1.0 / (var + eps).sqrt();
        for (j, a) in lane.iter_mut().enumerate() {
            *a = (*a - mean) * inv * g[j] + b[j];
        }
    });
    Tensor::from_f64_unchecked(x.dtype(), x.shape().to_vec(), &v)
}

/// RMSNorm over the last axis: `x * rsqrt(mean(x^2) + eps) * gamma`.
fn rms_norm(x: &Tensor, gamma: &Tensor, eps: f64) -> Tensor {
    let g = gamma.to_f64_vec();
    let mut v = x.to_f64_vec();
    let last = x.shape().len() - 1;
    per_lane(x.shape(), last, &mut v, |lane| {
        let ms = lane.iter().map(|a| a * a).sum::<f64>() / lane.len() as f64;
        let inv = 1.0 / (ms + eps).sqrt();
        for (j, a) in lane.iter_mut().enumerate() {
            *a *= inv * g[j];
        }
    });
    Tensor::from_f64_unchecked(x.dtype(), x.shape().to_vec(), &v)
}

/// LayerNorm's (or with `rms`, RMSNorm's) gradient with respect to `x`
/// over the last axis: `r * (h - mean(h) - xhat * mean(h * xhat))` with
/// `h = dy * gamma` (RMSNorm: no mean terms, `xhat = x * r`).
fn norm_grad(x: &Tensor, dy: &Tensor, gamma: &Tensor, eps: f64, rms: bool) -> Tensor {
    let g = gamma.to_f64_vec();
    let xs = x.to_f64_vec();
    let dys = dy.to_f64_vec();
    let n = g.len().max(1);
    let mut out = vec![0.0; xs.len()];
    for ((row, d), o) in xs.chunks(n).zip(dys.chunks(n)).zip(out.chunks_mut(n)) {
        let len = row.len() as f64;
        let mean = if rms { 0.0 } else { row.iter().sum::<f64>() / len };
        let var = row.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / len;
        let r = 1.0 / (var + eps).sqrt();
        let xhat: Vec<f64> = row.iter().map(|a| (a - mean) * r).collect();
        let h: Vec<f64> = d.iter().zip(&g).map(|(a, b)| a * b).collect();
        let h_mean = if rms { 0.0 } else { h.iter().sum::<f64>() / len };
        let hx = h.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / len;
        for (j, v) in o.iter_mut().enumerate() {
            *v = r * (h[j] - h_mean - xhat[j] * hx);
        }
    }
    Tensor::from_f64_unchecked(x.dtype(), x.shape().to_vec(), &out)
}
