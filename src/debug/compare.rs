//! Comparing two dumps of named intermediates (ours from `wgraph run
//! --dump` or `wgraph grad --dump`, the reference from
//! `tools/torch_dump.py`): statistics per tensor in the order the values
//! were computed (forward values in execution order, then `grad/` entries
//! in backward order, see [`super::walk`]), the first tensor beyond
//! tolerance, which pass it is in, and a one-line diagnosis when the
//! numbers show a known pattern.

use super::grad_diagnosis::diagnose_gradient;
use super::walk::{gradient_missing, walk_order, Section};
use crate::graph::{NamedTensors, Tensor};

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

fn moments(v: &[f64]) -> Moments {
    let n = v.len().max(1) as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    Moments { mean, std: var.sqrt() }
}

/// One tensor present in both dumps.
#[derive(Debug, Clone)]
pub struct Row {
    /// The tensor's name (an HF module path).
    pub name: String,
    /// Its shape in ours.
    pub ours_shape: Vec<usize>,
    /// Its shape in the reference.
    pub ref_shape: Vec<usize>,
    /// The largest `|ours - ref|`.
    pub max_abs: f64,
    /// The mean `|ours - ref|`.
    pub mean_abs: f64,
    /// Max abs diff over max |ref|.
    pub relative: f64,
    /// Cosine similarity of the two as flat vectors (1 when both are zero).
    pub cosine: f64,
    /// Mean and std of ours.
    pub ours: Moments,
    /// Mean and std of the reference.
    pub reference: Moments,
    /// Whether every element is within the tolerance (and the shapes are comparable).
    pub agrees: bool,
    /// Shapes differing only by size-1 axes are compared element by element.
    pub note: Option<String>,
}

/// The comparison of two dumps.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// One row per tensor present in both: forward values in ours' order
    /// (execution order, `loss` last), then gradients in backward order.
    pub rows: Vec<Row>,
    /// Names only ours has.
    pub only_ours: Vec<String>,
    /// Names only the reference has.
    pub only_reference: Vec<String>,
    /// The tolerance used.
    pub tolerance: Tolerance,
    /// The first row that does not agree, and what it looks like (a diagnosis
    /// such as "sign flip" or "permuted features", when one fits). A forward
    /// value when the forward passes differ (that is where a forward bug
    /// starts: the loss and every gradient follow from it), else the first
    /// gradient in backward order (see [`Comparison::divergence_section`]).
    pub first_divergence: Option<(String, Option<String>)>,
    /// The first gradient in backward order that does not agree, with its
    /// diagnosis; after a forward divergence it is a consequence of it.
    pub first_gradient_divergence: Option<(String, Option<String>)>,
    /// The gradient compared just before the first diverging one (it
    /// agrees): the backward went wrong between the two.
    pub last_agreeing_gradient: Option<String>,
    /// Reference tensors without a counterpart in ours that the reference
    /// computed after the last agreeing tensor and before the first
    /// divergence: the stretch nothing checked, where the bug must be (a
    /// module the port skips shows up here).
    pub unchecked_before_divergence: Vec<String>,
}

impl Comparison {
    /// Whether some tensor is outside the tolerance (`wgraph compare` then exits with 1).
    pub fn diverged(&self) -> bool {
        self.first_divergence.is_some()
    }

    /// The pass the first divergence is in.
    pub fn divergence_section(&self) -> Option<Section> {
        self.first_divergence.as_ref().map(|(name, _)| Section::of(name))
    }

    /// How many rows are in `section`.
    pub fn rows_in(&self, section: Section) -> usize {
        self.rows.iter().filter(|r| Section::of(&r.name) == section).count()
    }
}

fn squeezed(shape: &[usize]) -> Vec<usize> {
    shape.iter().copied().filter(|&d| d != 1).collect()
}

/// Compares every name present in both: forward values in `ours`' order
/// (`loss` last), then `grad/` entries in backward order (from the loss
/// towards the inputs, whatever order the files list them in; see
/// [`super::walk`]). The first divergence is the first row off in that walk.
pub fn compare(ours: &NamedTensors, reference: &NamedTensors, tolerance: Tolerance) -> Comparison {
    let mut rows: Vec<Row> = Vec::new();
    let mut first = None;
    let mut first_gradient = None;
    let mut last_agreeing_gradient = None;
    let mut unchecked = Vec::new();
    for name in walk_order(ours, reference) {
        let Some(b) = reference.get(name) else { continue };
        let zeros;
        let a = match ours.get(name) {
            Some(a) => a,
            None => {
                // A gradient ours' backward never computes (walk::gradient_missing).
                zeros = Tensor::zeros(b.dtype(), b.shape()).unwrap_or_else(|_| b.clone());
                &zeros
            }
        };
        let mut row = compare_one(name, a, b, tolerance);
        if ours.get(name).is_none() {
            row.note = Some("ours computes no such gradient: compared as zeros".into());
        }
        let section = Section::of(name);
        if !row.agrees && section == Section::Gradient && first_gradient.is_none() {
            // Rows before the first diverging gradient agree.
            let earlier: Vec<(&str, &Tensor)> = rows
                .iter()
                .filter(|r| Section::of(&r.name) == Section::Gradient)
                .filter_map(|r| reference.get(&r.name).map(|t| (r.name.as_str(), t)))
                .collect();
            last_agreeing_gradient = earlier.last().map(|(n, _)| n.to_string());
            first_gradient = Some((name.to_string(), diagnose_gradient(a, b, &earlier, tolerance)));
        }
        if !row.agrees && first.is_none() {
            first = match section {
                Section::Gradient => first_gradient.clone(),
                Section::Forward => {
                    let last_agreeing = rows.iter().rev().find(|r| r.agrees).map(|r| r.name.as_str());
                    let stretch = reference_between(reference, last_agreeing, name);
                    let why = diagnose(a, b, tolerance).or_else(|| skipped_steps(a, &stretch, tolerance));
                    unchecked =
                        stretch.iter().filter(|(n, _)| ours.get(n).is_none()).map(|(n, _)| n.to_string()).collect();
                    Some((name.to_string(), why))
                }
            };
        }
        rows.push(row);
    }
    let only_ours = ours.names().filter(|n| reference.get(n).is_none()).map(String::from).collect();
    let only_reference =
        reference.names().filter(|n| ours.get(n).is_none() && !gradient_missing(ours, n)).map(String::from).collect();
    Comparison {
        rows,
        only_ours,
        only_reference,
        tolerance,
        first_divergence: first,
        first_gradient_divergence: first_gradient,
        last_agreeing_gradient,
        unchecked_before_divergence: unchecked,
    }
}

/// The reference's tensors strictly between `after` (or the start) and
/// `before`, in its order, `after` itself included first when present.
fn reference_between<'a>(reference: &'a NamedTensors, after: Option<&str>, before: &str) -> Vec<(&'a str, &'a Tensor)> {
    let names: Vec<&str> = reference.names().collect();
    let end = names.iter().position(|&n| n == before).unwrap_or(names.len());
    let start = after.and_then(|a| names[..end].iter().position(|&n| n == a)).unwrap_or(0);
    reference.iter().skip(start).take(end.saturating_sub(start)).collect()
}

/// Ours equals a reference tensor computed before the diverging one: the
/// port left out what the reference does after it (a final LayerNorm).
fn skipped_steps(a: &Tensor, stretch: &[(&str, &Tensor)], tol: Tolerance) -> Option<String> {
    let va = a.to_f64_vec();
    let (i, (hit, _)) = stretch
        .iter()
        .enumerate()
        .rev()
        .find(|(_, (_, t))| squeezed(t.shape()) == squeezed(a.shape()) && close(&va, &t.to_f64_vec(), tol))?;
    let after: Vec<&str> = stretch[i + 1..].iter().map(|(n, _)| *n).collect();
    Some(if after.is_empty() {
        format!("ours equals the reference's `{hit}`")
    } else {
        format!("ours equals the reference's `{hit}`: the port skips what comes after it ({})", after.join(", "))
    })
}

fn compare_one(name: &str, a: &Tensor, b: &Tensor, tol: Tolerance) -> Row {
    let (va, vb) = (a.to_f64_vec(), b.to_f64_vec());
    let same_shape = a.shape() == b.shape();
    let comparable = same_shape || squeezed(a.shape()) == squeezed(b.shape());
    let note = match (same_shape, comparable) {
        (true, _) => None,
        (false, true) => Some("shapes differ only by size-1 axes".to_string()),
        (false, false) => Some("shape mismatch".to_string()),
    };
    let (mut max_abs, mut sum_abs, mut dot, mut na, mut nb, mut max_ref) = (0.0f64, 0.0, 0.0, 0.0, 0.0, 0.0f64);
    let mut agrees = comparable;
    if comparable {
        for (x, y) in va.iter().zip(&vb) {
            let d = (x - y).abs();
            // Written so that a NaN on either side fails.
            let within = d <= tol.atol + tol.rtol * y.abs();
            if !within {
                agrees = false;
            }
            max_abs = max_abs.max(d);
            sum_abs += d;
            dot += x * y;
            na += x * x;
            nb += y * y;
            max_ref = max_ref.max(y.abs());
        }
    }
    let n = va.len().max(1) as f64;
    let cosine = if na > 0.0 && nb > 0.0 {
        dot / (na.sqrt() * nb.sqrt())
    } else if na == nb {
        1.0
    } else {
        0.0
    };
    Row {
        name: name.to_string(),
        ours_shape: a.shape().to_vec(),
        ref_shape: b.shape().to_vec(),
        max_abs,
        mean_abs: sum_abs / n,
        relative: if max_ref > 0.0 { max_abs / max_ref } else { max_abs },
        cosine,
        ours: moments(&va),
        reference: moments(&vb),
        agrees,
        note,
    }
}

fn close(a: &[f64], b: &[f64], tol: Tolerance) -> bool {
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
