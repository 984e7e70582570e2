//! The op table's input generators and longer builders: awkward sizes,
//! broadcasting, values inside each op's domain and away from kinks.

use super::rng::sized;
use super::Rng;
use crate::graph::ops::{self, Conv1dOptions};
use crate::graph::{DType, Dim, Graph, Tensor, Value};

// ---- input generators --------------------------------------------------------

/// `rank` awkward sizes.
pub fn shape(r: &mut Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| r.size()).collect()
}

/// A shape broadcastable against `shape`: some axes become 1, leading axes may go.
pub fn broadcastable(r: &mut Rng, shape: &[usize]) -> Vec<usize> {
    let drop = r.below(shape.len() + 1).min(shape.len() - 1);
    shape[drop..].iter().map(|&d| if r.below(3) == 0 { 1 } else { d }).collect()
}

/// Integers uniform in `[lo, hi)`.
pub fn ints(r: &mut Rng, shape: &[usize], lo: i64, hi: i64) -> Tensor {
    let n = shape.iter().product();
    sized(shape.to_vec(), (0..n).map(|_| lo + r.below((hi - lo) as usize) as i64).collect::<Vec<i64>>())
}

/// One rank-3 float tensor in `[lo, hi)`.
pub(super) fn unary(r: &mut Rng, lo: f32, hi: f32) -> Vec<Tensor> {
    let s = shape(r, 3);
    vec![r.floats(&s, lo, hi)]
}

/// One rank-3 tensor of magnitudes in `[lo, hi)` with random signs: away
/// from a kink at 0 (relu, abs), so finite differences never straddle it.
pub(super) fn unary_away(r: &mut Rng, lo: f32, hi: f32) -> Vec<Tensor> {
    let s = shape(r, 3);
    let n = s.iter().product();
    let v: Vec<f32> = (0..n).map(|_| if r.below(2) == 0 { 1.0 } else { -1.0 } * r.uniform(lo, hi)).collect();
    vec![sized(s, v)]
}

/// Values spread evenly over `[lo, hi)` in random order: no two equal, so
/// `max`/`min` reductions have no ties and finite differences (steps far
/// below the spacing, `(hi - lo) / numel`) never reorder them.
pub fn distinct(r: &mut Rng, shape: &[usize], lo: f32, hi: f32) -> Tensor {
    let n: usize = shape.iter().product();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, r.below(i + 1));
    }
    let v: Vec<f32> = order.iter().map(|&k| lo + (hi - lo) * (k as f32 + 0.5) / n as f32).collect();
    sized(shape.to_vec(), v)
}

/// Broadcasting operands on interleaved grids (`k/4` and `k/4 + 1/8`) in
/// `[-3, 3)`: never equal, at least 1/8 apart, so `maximum`/`minimum` have
/// no ties.
pub(super) fn binary_apart(r: &mut Rng) -> Vec<Tensor> {
    let (a, b) = broadcast_pair(r);
    let grid = |r: &mut Rng, s: &[usize], offset: f32| {
        let n = s.iter().product();
        let v: Vec<f32> = (0..n).map(|_| (r.uniform(-3.0, 2.75) * 4.0).floor() / 4.0 + offset).collect();
        sized(s.to_vec(), v)
    };
    vec![grid(r, &a, 0.0), grid(r, &b, 0.125)]
}

/// Two shapes that broadcast against each other: the first may have size-1
/// axes of its own, the second drops leading axes and sets others to 1.
pub(super) fn broadcast_pair(r: &mut Rng) -> (Vec<usize>, Vec<usize>) {
    let s = shape(r, 3);
    let b = broadcastable(r, &s);
    let a = s.iter().map(|&d| if r.below(4) == 0 { 1 } else { d }).collect();
    (a, b)
}

/// A float in `[-3, 3)` and one in `[lo, hi)`, broadcasting.
pub(super) fn binary(r: &mut Rng, lo: f32, hi: f32) -> Vec<Tensor> {
    let (a, b) = broadcast_pair(r);
    vec![r.floats(&a, -3.0, 3.0), r.floats(&b, lo, hi)]
}

/// Integers in `[0, below)`, broadcasting.
pub(super) fn int_pair(r: &mut Rng, below: usize) -> Vec<Tensor> {
    let (a, b) = broadcast_pair(r);
    vec![r.ints(&a, below), r.ints(&b, below)]
}

/// A positive base, any exponent.
pub(super) fn pow_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (a, b) = broadcast_pair(r);
    vec![r.floats(&a, 0.1, 3.0), r.floats(&b, -2.0, 2.0)]
}

/// Signed numerators in `[-20, 20)`, divisors in `[-4, 4]`: zero included,
/// since the interpreter and the kernels both define `x // 0 = 0`.
pub(super) fn floor_div_inputs(r: &mut Rng) -> Vec<Tensor> {
    let s = shape(r, 2);
    vec![ints(r, &s, -20, 20), ints(r, &s, -4, 5)]
}

pub(super) fn select_inputs(r: &mut Rng) -> Vec<Tensor> {
    let s = shape(r, 3);
    let c = broadcastable(r, &s);
    vec![r.bools(&c), r.floats(&s, -3.0, 3.0), r.floats(&s[2..], -3.0, 3.0)]
}

/// `[a, b, c]` and `[a, d, c]`: concatenable along axis 1.
pub(super) fn concat_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (a, b, c, d) = (r.size(), r.size(), r.size(), r.size());
    vec![r.floats(&[a, b, c], -1.0, 1.0), r.floats(&[a, d, c], -1.0, 1.0)]
}

/// A `[vocab, d]` table and `[batch, seq]` ids.
pub(super) fn embedding_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (v, d) = (r.size() + 1, r.size());
    let (b, s) = (r.size(), r.size());
    vec![r.floats(&[v, d], -1.0, 1.0), r.ints(&[b, s], v)]
}

/// A `[a, n]` table and one scalar (0-d) index into its last axis.
pub(super) fn gather_scalar_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (a, n) = (r.size(), r.size());
    vec![r.floats(&[a, n], -1.0, 1.0), Tensor::scalar(r.below(n) as i64)]
}

pub(super) fn gather_axis1_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (a, n, c, k) = (r.size(), r.size(), r.size(), r.size());
    vec![r.floats(&[a, n, c], -1.0, 1.0), r.ints(&[k], n)]
}

/// The rows every scatter-add case writes (the generator's indices stay
/// below `SCATTER_ROWS - 1`, so the last row is always zero).
pub(super) const SCATTER_ROWS: usize = 7;

/// Indices of `shape` in `0..SCATTER_ROWS - 1`, the second equal to the
/// first (so one row always sums several updates).
pub(super) fn scatter_ids(r: &mut Rng, shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    let mut v: Vec<i64> = (0..n).map(|_| r.below(SCATTER_ROWS - 1) as i64).collect();
    if n > 1 {
        v[1] = v[0];
    }
    sized(shape.to_vec(), v)
}

/// `[b, s, d]` update rows and `[b, s]` token ids.
pub(super) fn scatter_embedding_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, s, d) = (r.size(), r.size() + 1, r.size());
    vec![r.floats(&[b, s, d], -1.0, 1.0), scatter_ids(r, &[b, s])]
}

/// `[a, k1, k2, c]` updates and `[k1, k2]` indices into axis 1 (sizes
/// capped: four awkward dims would reach 18M elements).
pub(super) fn scatter_axis1_inputs(r: &mut Rng) -> Vec<Tensor> {
    let mut size = || r.size().min(17);
    let (a, k1, k2, c) = (size(), size() + 1, size(), size());
    vec![r.floats(&[a, k1, k2, c], -1.0, 1.0), scatter_ids(r, &[k1, k2])]
}

/// `A^T` is `[k, m]`, the weight `[n, k]`; sizes multiples of 3, 5 and 7.
pub(super) fn transposed_operands_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (m, k, n) = (r.size() * 3, r.size() * 5, r.size() * 7);
    vec![r.floats(&[k, m], -1.0, 1.0), r.floats(&[n, k], -1.0, 1.0), r.floats(&[n], -1.0, 1.0)]
}

pub(super) fn gated_mlp_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, s, d, f) = (r.size(), r.size(), r.size() * 4, r.size() * 4);
    vec![r.floats(&[b, s, d], -1.0, 1.0), r.floats(&[f, d], -1.0, 1.0), r.floats(&[f, d], -1.0, 1.0)]
}

/// Hidden states of two heads, and a `[batch, seq]` keep-mask.
pub(super) fn attention_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, s, d) = (r.size(), r.size(), r.size());
    vec![r.floats(&[b, s, 2 * d], -1.0, 1.0), r.bools(&[b, s])]
}

/// Whisper's first convolution, scaled down: 4 channels in, 6 out, k = 3.
pub(super) fn conv1d_whisper_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, l) = (r.size(), 10 + r.size());
    vec![r.floats(&[b, 4, l], -1.0, 1.0), r.floats(&[6, 4, 3], -1.0, 1.0), r.floats(&[6], -1.0, 1.0)]
}

/// `x [batch, c_in, len]`, `w [c_out, c_in / groups, k]` and, with `bias`,
/// `b [c_out]`, the length at least the kernel's reach.
pub(super) fn conv_inputs(r: &mut Rng, o: Conv1dOptions, k: usize, bias: bool) -> Vec<Tensor> {
    let (c_in, c_out) = (o.groups * (1 + r.below(3)), o.groups * (1 + r.below(3)));
    let reach = o.dilation * (k - 1) + 1;
    let len = reach.saturating_sub(2 * o.padding).max(1) + r.size();
    let batch = r.size();
    let mut inputs = vec![r.floats(&[batch, c_in, len], -1.0, 1.0), r.floats(&[c_out, c_in / o.groups, k], -1.0, 1.0)];
    if bias {
        inputs.push(r.floats(&[c_out], -1.0, 1.0));
    }
    inputs
}

pub(super) const PLAIN_CONV: Conv1dOptions = Conv1dOptions { stride: 1, padding: 0, dilation: 1, groups: 1 };
pub(super) const EVERY_CONV: Conv1dOptions = Conv1dOptions { stride: 3, padding: 2, dilation: 2, groups: 2 };
pub(super) const POINTWISE_CONV: Conv1dOptions = Conv1dOptions { stride: 2, padding: 0, dilation: 1, groups: 3 };
pub(super) const WHISPER_CONV: Conv1dOptions = Conv1dOptions { stride: 2, padding: 1, dilation: 1, groups: 1 };
pub(super) const GROUPED_CONV: Conv1dOptions = Conv1dOptions { stride: 1, padding: 2, dilation: 2, groups: 2 };

/// `[a, 2, n]` rows with gamma and beta; rows scaled by `1 / SHRINK` so a
/// larger eps matters.
pub(super) fn layer_norm_inputs<const SHRINK: u32>(r: &mut Rng) -> Vec<Tensor> {
    let (a, n) = (r.size(), r.size() * 7);
    let x = 3.0 / SHRINK as f32;
    vec![r.floats(&[a, 2, n], -x, x), r.floats(&[n], 0.5, 1.5), r.floats(&[n], -1.0, 1.0)]
}

/// A norm gradient's operands: `x`, `dy` shaped like it, and `gamma`;
/// `SHRINK` scales x down so epsilon matters, `LONG` makes rows longer
/// than a workgroup and than `SHORT_ROW` (where CPU drivers switch from
/// a row per invocation to a workgroup per row).
pub(super) fn norm_grad_inputs<const SHRINK: u32, const LONG: usize>(r: &mut Rng) -> Vec<Tensor> {
    let (a, n) = (r.size(), r.size() * 7 + LONG);
    let x = 3.0 / SHRINK as f32;
    vec![r.floats(&[a, 2, n], -x, x), r.floats(&[a, 2, n], -1.0, 1.0), r.floats(&[n], 0.5, 1.5)]
}

// ---- builders too long for one line ------------------------------------------

/// f32 → i64 → bool, both back to f32.
pub(super) fn cast_chain(_: &Graph, x: &[Value]) -> Value {
    let i = ops::cast(&x[0], DType::I64);
    let b = ops::cast(&i, DType::Bool);
    &ops::cast(&i, DType::F32) + &ops::cast(&b, DType::F32)
}

/// `[b, s, 4h]` split into heads of size 4: `[b, h, s, 4]`.
pub(super) fn reshape_heads(_: &Graph, x: &[Value]) -> Value {
    let sh = x[0].shape();
    let heads = sh[2].as_static().expect("static hidden size") / 4;
    ops::permute(&ops::reshape(&x[0], [sh[0].clone(), sh[1].clone(), heads.into(), 4.into()]), &[0, 2, 1, 3])
}

/// Concatenates three parts, splits off the first column and swaps the pieces.
pub(super) fn concat_split(_: &Graph, x: &[Value]) -> Value {
    let joined = ops::concat(&[&x[0], &x[1], &x[0]], 1);
    let n = joined.shape()[1].as_static().expect("static axis");
    let parts = ops::split(&joined, 1, &[1, n - 1]);
    &ops::concat(&[&parts[1], &parts[0]], 1) * 2.0
}

/// A causal and a band mask, and position ids, over `[rows, cols]` scores.
pub(super) fn range_and_masks(g: &Graph, x: &[Value]) -> Value {
    let sh = x[0].shape();
    let causal = ops::causal_mask(g, sh[0].clone(), sh[1].clone());
    let band = ops::band_mask(g, sh[0].clone(), sh[1].clone(), Some(2), Some(1));
    let pos = ops::cast(&ops::range(g, 3, 2, sh[1].clone(), DType::I64), x[0].dtype());
    let both = ops::and(&causal, &band);
    ops::select(&both, &(&x[0] + &pos), &ops::scalar(g, -7.0, x[0].dtype()))
}

/// Two heads' scaled `q k^T` with the keep-mask, softmaxed.
pub(super) fn attention_scores(g: &Graph, x: &[Value]) -> Value {
    let sh = x[0].shape();
    let d = sh[2].as_static().expect("static hidden size") / 2;
    let heads = ops::permute(&ops::reshape(&x[0], [sh[0].clone(), sh[1].clone(), 2.into(), d.into()]), &[0, 2, 1, 3]);
    let scores = ops::matmul(&heads, &ops::transpose(&heads, -1, -2)) * 0.5;
    let keep = ops::unsqueeze(&ops::unsqueeze(&x[1], 1), 1);
    ops::softmax(&ops::select(&keep, &scores, &ops::scalar(g, f32::MIN as f64, x[0].dtype())), -1)
}

/// Which mask [`qkv`] draws: none, `[b, 1, 1, n]` (padding) or `[b, 1, m, n]`.
pub(super) const NO_MASK: u8 = 0;
/// See [`NO_MASK`].
pub(super) const KEY_MASK: u8 = 1;
/// See [`NO_MASK`].
pub(super) const ROW_MASK: u8 = 2;

/// `q [b, h, m, d]`, `k [b, h, n, d]`, `v [b, h, n, dv]` with `m` and `n`
/// drawn apart (`n` given for long rows), and the mask `kind` asks for.
pub(super) fn qkv(r: &mut Rng, d: usize, dv: usize, n: Option<usize>, kind: u8) -> Vec<Tensor> {
    let (b, h, m) = (1 + r.below(2), 1 + r.below(3), r.size().min(17));
    let n = n.unwrap_or_else(|| r.size().min(33));
    let mut out = vec![
        r.floats(&[b, h, m, d], -1.0, 1.0),
        r.floats(&[b, h, n, d], -1.0, 1.0),
        r.floats(&[b, h, n, dv], -1.0, 1.0),
    ];
    match kind {
        KEY_MASK => out.push(r.bools(&[b, 1, 1, n])),
        ROW_MASK => out.push(r.bools(&[b, 1, m, n])),
        _ => {}
    }
    out
}

/// `softmax(mask(q k^T * scale)) v` as the model graphs build it.
pub(super) fn attention_pattern(q: &Value, k: &Value, v: &Value, mask: Option<&Value>, scale: Option<f64>) -> Value {
    let mut scores = ops::matmul(q, &ops::transpose(k, -1, -2));
    if let Some(s) = scale {
        scores = scores * s;
    }
    if let Some(mask) = mask {
        scores = ops::select(mask, &scores, &ops::scalar(q.graph(), f32::MIN as f64, q.dtype()));
    }
    ops::matmul(&ops::softmax(&scores, -1), v)
}

/// Projected `q`, `k`, `v` `[batch, seq, 2 * d]` (two heads) and a `[batch, seq]` keep-mask.
pub(super) fn attention_heads_inputs(r: &mut Rng) -> Vec<Tensor> {
    let (b, s, d) = (1 + r.below(2), r.size().min(33), [4, 8, 32][r.below(3)]);
    let x = |r: &mut Rng| r.floats(&[b, s, 2 * d], -1.0, 1.0);
    vec![x(r), x(r), x(r), r.bools(&[b, s])]
}

/// BERT's attention: heads split by permuted views, padding mask, scale.
pub(super) fn attention_heads(_: &Graph, x: &[Value]) -> Value {
    let split = |v: &Value| {
        let sh = v.shape();
        let d = sh[2].as_static().expect("static hidden size") / 2;
        ops::permute(&ops::reshape(v, [sh[0].clone(), sh[1].clone(), 2.into(), d.into()]), &[0, 2, 1, 3])
    };
    let keep = ops::unsqueeze(&ops::unsqueeze(&x[3], 1), 1);
    attention_pattern(&split(&x[0]), &split(&x[1]), &split(&x[2]), Some(&keep), Some(0.3))
}

/// LLaMA's causal mask over `n` keys, the `m` queries the last positions.
pub(super) fn attention_causal(g: &Graph, x: &[Value]) -> Value {
    let (m, n) = (x[0].shape()[2].clone(), x[1].shape()[2].clone());
    let mask = ops::unsqueeze(&ops::unsqueeze(&ops::causal_mask(g, m, n), 0), 0);
    attention_pattern(&x[0], &x[1], &x[2], Some(&mask), Some(0.25))
}

/// The masked softmax HF models compute: the lowest float where the mask is
/// false (a fully masked row comes out uniform).
pub(super) fn softmax_masked(g: &Graph, x: &[Value]) -> Value {
    ops::softmax(&ops::select(&x[1], &x[0], &ops::scalar(g, f32::MIN as f64, x[0].dtype())), -1)
}

/// All elements as one axis.
pub(super) fn flatten(x: &Value) -> Value {
    ops::reshape(x, [Dim::product(&x.shape())])
}

/// Sum + mean + max - min along one axis.
pub(super) fn reductions(_: &Graph, x: &[Value]) -> Value {
    let s = ops::sum(&x[0], 1, true);
    let m = ops::mean(&x[0], 1, true);
    let hi = ops::max(&x[0], 1, true);
    let lo = ops::min(&x[0], 1, true);
    &(&(&s + &m) + &hi) - &lo
}
