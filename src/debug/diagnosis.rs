//! What two tensors that should agree look like: the tolerance test, their
//! statistics, and a one-line diagnosis when the numbers show a known
//! pattern (sign flipped, scaled, transposed, rows masked or permuted).
//! Shared by the dump comparison and the gradient diagnoses.

use crate::graph::Tensor;

/// Tolerances: a tensor agrees when `|ours - ref| <= atol + rtol * |ref|` everywhere.
#[derive(Debug, Clone, Copy)]
pub struct Tolerance {
    /// Relative tolerance, scaled by `|ref|` (1e-3 by default).
    pub rtol: f64,
    /// Absolute tolerance (1e-4 by default).
    pub atol: f64,
}

impl Default for Tolerance {
    fn default() -> Self {
        Tolerance { rtol: 1e-3, atol: 1e-4 }
    }
}

/// Mean and standard deviation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    /// The mean.
    pub mean: f64,
    /// The population standard deviation.
    pub std: f64,
}

pub(super) fn moments(v: &[f64]) -> Moments {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    Moments { mean, std: var.sqrt() }
}

pub(super) fn squeezed(shape: &[usize]) -> Vec<usize> {
    shape.iter().copied().filter(|&d| d != 1).collect()
}

pub(super) fn close(a: &[f64], b: &[f64], tol: Tolerance) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol.atol + tol.rtol * y.abs())
}

/// Recognises the usual porting mistakes from the numbers alone.
pub fn diagnose(a: &Tensor, b: &Tensor, tol: Tolerance) -> Option<String> {
    let (va, vb) = (a.to_f64_vec(), b.to_f64_vec());
    if va.len() != vb.len() {
        return Some(format!("different element counts ({} vs {}): a missing or extra axis", va.len(), vb.len()));
    }
    if va.iter().any(|x| !x.is_finite()) && vb.iter().all(|x| x.is_finite()) {
        return Some("ours has NaN or Inf where the reference is finite".into());
    }
    let neg: Vec<f64> = va.iter().map(|x| -x).collect();
    if close(&neg, &vb, tol) {
        return Some("sign flip: ours is the negation of the reference".into());
    }
    let (sa, sb): (f64, f64) =
        (va.iter().map(|x| x * x).sum::<f64>().sqrt(), vb.iter().map(|x| x * x).sum::<f64>().sqrt());
    if sa > 0.0 && sb > 0.0 {
        let r = sa / sb;
        let scaled: Vec<f64> = vb.iter().map(|y| y * r).collect();
        if close(&va, &scaled, tol) {
            return Some(format!("scale factor: ours is {r:.6} times the reference (a missing or extra scaling?)"));
        }
    }
    let diff: Vec<f64> = va.iter().zip(&vb).map(|(x, y)| x - y).collect();
    let m = moments(&diff);
    if m.mean.abs() > tol.atol && m.std <= tol.atol.max(1e-3 * m.mean.abs()) {
        return Some(format!("constant offset: ours is the reference plus {:.6}", m.mean));
    }
    let shape = b.shape();
    if shape.len() >= 2 {
        let (r, c) = (shape[shape.len() - 2], shape[shape.len() - 1]);
        let rows = va.len() / c.max(1);
        if r == c && r > 1 {
            let mut t = vec![0.0; va.len()];
            for blk in 0..va.len() / (r * c) {
                for i in 0..r {
                    for j in 0..c {
                        t[blk * r * c + j * c + i] = va[blk * r * c + i * c + j];
                    }
                }
            }
            if close(&t, &vb, tol) {
                return Some("transposed: ours is the reference with its last two axes swapped".into());
            }
        }
        // Rows (along the last axis) that are constant on one side only:
        // attention with every key masked gives uniform rows.
        let flat = |v: &[f64], i: usize| {
            let row = &v[i * c..(i + 1) * c];
            row.iter().all(|x| (x - row[0]).abs() <= tol.atol)
        };
        let uniform_ours = (0..rows).filter(|&i| flat(&va, i) && !flat(&vb, i)).count();
        let uniform_ref = (0..rows).filter(|&i| flat(&vb, i) && !flat(&va, i)).count();
        if uniform_ours > 0 || uniform_ref > 0 {
            let side = if uniform_ours >= uniform_ref { "ours" } else { "the reference" };
            return Some(format!(
                "{} rows are constant in {side} only: all-masked rows (an attention mask applied differently)?",
                uniform_ours.max(uniform_ref)
            ));
        }
        // Same rows, different order.
        if c > 1 && permutation_of(rows, |i, j| close(&va[i * c..(i + 1) * c], &vb[j * c..(j + 1) * c], tol)) {
            return Some("permuted rows: every row matches a reference row, in another order".into());
        }
        // Same features (last axis), different order. Quadratic in the
        // width, so only for tensors where that stays cheap.
        let column = |v: &[f64], j: usize| (0..rows).map(|i| v[i * c + j]).collect::<Vec<f64>>();
        if c > 1 && c * c * rows <= 20_000_000 {
            let (ca, cb): (Vec<_>, Vec<_>) = (0..c).map(|j| (column(&va, j), column(&vb, j))).unzip();
            if permutation_of(c, |i, j| close(&ca[i], &cb[j], tol)) {
                return Some(
                    "permuted features: the last axis holds the reference's values in another order \
                     (interleaved vs half-split RoPE, or heads split differently?)"
                        .into(),
                );
            }
        }
    }
    None
}

/// Whether each of `n` slices of ours matches a distinct reference slice
/// (`same(ours, reference)`), matched greedily.
fn permutation_of(n: usize, same: impl Fn(usize, usize) -> bool) -> bool {
    let mut used = vec![false; n];
    (0..n).all(|i| match (0..n).find(|&j| !used[j] && same(i, j)) {
        Some(j) => {
            used[j] = true;
            true
        }
        None => false,
    })
}
