//! Comparing two dumps of named intermediates (ours from `wgraph run
//! --dump` or `wgraph grad --dump`, the reference from
//! `tools/torch_dump.py`): statistics per tensor in the order the values
//! were computed (forward values in execution order, then `grad/` entries
//! in backward order, see [`super::walk`]), the first tensor beyond
//! tolerance, which pass it is in, and a one-line diagnosis when the
//! numbers show a known pattern.

use super::diagnosis::{close, diagnose, moments, squeezed, Moments, Tolerance};
use super::grad_diagnosis::diagnose_gradient;
use super::walk::{gradient_missing, walk_order, Section};
use crate::graph::{NamedTensors, Tensor};

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
