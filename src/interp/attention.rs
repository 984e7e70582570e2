//! Fused attention, computed the way the primitive ops would: scores `q
//! k^T * scale` in f64, masked scores set to the lowest f32 (what the
//! graphs select), a max-subtracted softmax over the keys, then the
//! weighted sum of the values.

use super::movement::expand;
use crate::graph::Tensor;

/// `softmax(mask(q k^T * scale)) v` with `q [.., m, d]`, `k [.., n, d]`,
/// `v [.., n, dv]` sharing batch dims and `mask` broadcastable to `[.., m, n]`.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>, scale: Option<f64>) -> Tensor {
    let r = q.shape().len();
    let (m, d, n, dv) = (q.shape()[r - 2], q.shape()[r - 1], k.shape()[r - 2], v.shape()[r - 1]);
    let batch: usize = q.shape()[..r - 2].iter().product();
    let mut scores_shape = q.shape()[..r - 2].to_vec();
    scores_shape.extend([m, n]);
    let allowed = mask.map(|t| expand(t, &scores_shape).to_f64_vec());
    let (vq, vk, vv) = (q.to_f64_vec(), k.to_f64_vec(), v.to_f64_vec());
    let mut out = Vec::with_capacity(batch * m * dv);
    let mut s = vec![0.0f64; n];
    for b in 0..batch {
        for i in 0..m {
            let qi = &vq[(b * m + i) * d..][..d];
            for (j, sj) in s.iter_mut().enumerate() {
                let kj = &vk[(b * n + j) * d..][..d];
                let dot: f64 = qi.iter().zip(kj).map(|(x, y)| x * y).sum();
                *sj = dot * scale.unwrap_or(1.0);
                if allowed.as_ref().is_some_and(|a| a[(b * m + i) * n + j] == 0.0) {
                    *sj = f32::MIN as f64;
                }
            }
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut total = 0.0;
            for sj in s.iter_mut() {
                *sj = (*sj - max).exp();
                total += *sj;
            }
            for c in 0..dv {
                let acc: f64 = s.iter().enumerate().map(|(j, p)| p * vv[(b * n + j) * dv + c]).sum();
                out.push(acc / total);
            }
        }
    }
    let mut out_shape = q.shape()[..r - 2].to_vec();
    out_shape.extend([m, dv]);
    Tensor::from_f64_unchecked(q.dtype(), out_shape, &out)
}
