//! Checking a graph's declared weights against a registry, before any
//! execution: every problem in one report.

use super::error::WeightError;
use super::registry::Weights;
use super::report::{write_unused, UnusedTensor, WeightProblem, WeightReport};
use super::suggest::{closest_names, common_prefix};
use crate::graph::{Bindings, Dim, Graph, Ir, Op};
use std::collections::BTreeSet;
use std::fmt;

/// A successful check: the graph can load every weight. Carries the
/// warnings (unused tensors) and the sizes of any symbolic dims in weight
/// shapes (a `vocab` dim bound by the embedding table).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedWeights {
    /// Stored tensors no weight reads.
    pub unused: Vec<UnusedTensor>,
    /// Sizes of symbols that appear in weight shapes, read off the stored tensors.
    pub bindings: Bindings,
}

impl CheckedWeights {
    /// Whether some stored tensors go unused (printing `self` lists them).
    pub fn has_warnings(&self) -> bool {
        !self.unused.is_empty()
    }
}

impl fmt::Display for CheckedWeights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_unused(f, &self.unused)
    }
}

impl Graph {
    /// Checks every declared weight against `weights`: names, shapes and
    /// dtypes, all reported together; unused stored tensors come back as
    /// warnings in the `Ok` value (and in the report when there are errors).
    ///
    /// ```
    /// use wgraph::{ops, DType, Dim, Graph, Tensor, WeightError, Weights};
    /// let g = Graph::new("probe");
    /// let x = g.input("x", DType::F32, [Dim::sym("batch"), Dim::new(4)]);
    /// let w = g.weight("classifier.weight", DType::F32, [2usize, 4]);
    /// g.output_named([("logits", ops::linear(&x, &w, None))])?;
    ///
    /// // Stored [in, out] instead of PyTorch's [out, in]: the report says so.
    /// let weights = Weights::from_tensors([("classifier.weight", Tensor::zeros(DType::F32, [4, 2])?)]);
    /// let Err(WeightError::Check(report)) = g.check_weights(&weights) else { panic!("expected a report") };
    /// assert_eq!(report.problems.len(), 1);
    /// assert!(report.to_string().contains("the checkpoint holds the transpose"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_weights(&self, weights: &Weights) -> Result<CheckedWeights, WeightError> {
        check_ir(&self.ir_unchecked(), weights)
    }
}

/// The check behind [`Graph::check_weights`], on a plain IR (the compiler
/// calls it on the graph it is about to lower).
pub fn check_ir(ir: &Ir, weights: &Weights) -> Result<CheckedWeights, WeightError> {
    let mut problems = Vec::new();
    let mut used = BTreeSet::new();
    let mut missing = Vec::new();
    let mut bindings = Bindings::new();
    let mut deferred = Vec::new();

    for id in ir.weights() {
        let node = ir.node(id);
        let Op::Weight { name, dtype, shape, .. } = &node.op else { continue };
        let stored_name = weights.resolve(name);
        let Some(info) = weights.info(&stored_name) else {
            missing.push((name.clone(), *dtype, shape.clone(), node.location));
            continue;
        };
        used.insert(stored_name.clone());
        if !Weights::converts_to(info, *dtype) {
            problems.push(WeightProblem::DType {
                name: stored_name.clone(),
                expected: *dtype,
                got: info.file_dtype.clone(),
                declared_at: node.location,
            });
        }
        let shape_problem = |hint: Option<String>| WeightProblem::Shape {
            name: stored_name.clone(),
            expected: shape.clone(),
            got: info.shape.clone(),
            declared_at: node.location,
            hint,
        };
        if shape.len() != info.shape.len() {
            problems.push(shape_problem(shape_hint(shape, &info.shape)));
            continue;
        }
        let mut mismatch = false;
        for (d, &size) in shape.iter().zip(&info.shape) {
            if let Some(s) = d.as_static() {
                mismatch |= s != size;
            } else if let Some(sym) = d.as_symbol() {
                match bindings.get(sym) {
                    Some(&b) if b != size => {
                        let hint = format!("symbol `{sym}` was already bound to {b} by another weight");
                        problems.push(shape_problem(Some(hint)));
                        break;
                    }
                    Some(_) => {}
                    None => {
                        bindings.insert(sym.clone(), size);
                    }
                }
            } else {
                deferred.push((d.clone(), size, stored_name.clone(), shape.clone(), info.shape.clone(), node.location));
            }
        }
        if mismatch {
            problems.push(shape_problem(shape_hint(shape, &info.shape)));
        }
    }
    for (d, size, name, expected, got, declared_at) in deferred {
        if d.eval(&bindings) != Some(size) {
            problems.push(WeightProblem::Shape {
                name,
                expected,
                got,
                declared_at,
                hint: Some(format!("dim `{d}` is not {size} under the sizes other weights bind")),
            });
        }
    }

    let unused: Vec<UnusedTensor> = weights
        .names()
        .filter(|n| !used.contains(*n))
        .filter_map(|n| weights.info(n).map(|i| (n, i)))
        .map(|(n, i)| UnusedTensor { name: n.to_string(), file_dtype: i.file_dtype.clone(), shape: i.shape.clone() })
        .collect();

    let mut prefix_hint = None;
    if !missing.is_empty() {
        let stored: Vec<&str> = weights.names().collect();
        let wanted: Vec<String> = missing.iter().map(|m| weights.resolve(&m.0)).collect();
        let wanted_refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
        prefix_hint = common_prefix(&wanted_refs, &stored);
        let unused_names: Vec<&str> = unused.iter().map(|u| u.name.as_str()).collect();
        for ((_, dtype, shape, declared_at), name) in missing.into_iter().zip(wanted) {
            // Unused names are the likely intended ones; fall back to all.
            let mut closest = closest_names(&name, unused_names.iter().copied(), 3);
            if closest.is_empty() {
                closest = closest_names(&name, stored.iter().copied(), 3);
            }
            problems.push(WeightProblem::Missing { name, dtype, shape, declared_at, closest });
        }
    }

    if problems.is_empty() {
        return Ok(CheckedWeights { unused, bindings });
    }
    problems.sort_by_key(|p| match p {
        WeightProblem::Missing { declared_at, .. }
        | WeightProblem::Shape { declared_at, .. }
        | WeightProblem::DType { declared_at, .. } => (declared_at.file(), declared_at.line()),
    });
    Err(WeightError::Check(Box::new(WeightReport {
        graph: ir.name.clone(),
        origin: weights.origin().to_string(),
        problems,
        unused,
        prefix_hint,
    })))
}

/// Why a stored shape might differ from the declared one.
fn shape_hint(expected: &[Dim], got: &[usize]) -> Option<String> {
    let statics: Option<Vec<usize>> = expected.iter().map(Dim::as_static).collect();
    let expected = statics?;
    if expected.len() == 2 && got.len() == 2 && expected[0] == got[1] && expected[1] == got[0] {
        return Some(
            "the checkpoint holds the transpose: a PyTorch Linear stores its weight [out, in]; declare it \
             [out, in] and use ops::linear (or ops::transpose) instead of declaring it [in, out]"
                .into(),
        );
    }
    if expected.iter().product::<usize>() == got.iter().product::<usize>() {
        return Some("same element count in another layout: declare the stored shape and reshape in the graph".into());
    }
    None
}
