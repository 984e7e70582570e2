//! The one report `check_weights` produces: every problem, with hints.

use super::suggest::PrefixHint;
use crate::graph::{DType, Dim, ShapeDisplay, SourceLoc};
use std::fmt;

/// One thing wrong between a graph's declared weights and the registry.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WeightProblem {
    /// The graph declares a weight the registry lacks.
    Missing { name: String, dtype: DType, shape: Vec<Dim>, declared_at: SourceLoc, closest: Vec<String> },
    /// Present, but with another shape.
    Shape { name: String, expected: Vec<Dim>, got: Vec<usize>, declared_at: SourceLoc, hint: Option<String> },
    /// Present, but stored in a format that cannot become the declared dtype.
    DType { name: String, expected: DType, got: String, declared_at: SourceLoc },
}

/// A stored tensor no weight of the graph reads. Usually harmless (buffers
/// such as `position_ids`), but an unused `ln_post.weight` is how a missing
/// final layer norm shows up.
#[derive(Debug, Clone, PartialEq)]
pub struct UnusedTensor {
    pub name: String,
    pub file_dtype: String,
    pub shape: Vec<usize>,
}

/// Every weight problem of one graph against one registry.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightReport {
    pub graph: String,
    pub origin: String,
    pub problems: Vec<WeightProblem>,
    pub unused: Vec<UnusedTensor>,
    pub prefix_hint: Option<PrefixHint>,
}

impl WeightReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

fn quoted(names: &[String]) -> String {
    names.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for WeightProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WeightProblem::Missing { name, dtype, shape, declared_at, closest } => {
                write!(f, "missing `{name}` ({dtype}{}), declared at {declared_at}", ShapeDisplay(shape))?;
                if !closest.is_empty() {
                    write!(f, "\n      closest in the checkpoint: {}", quoted(closest))?;
                }
                Ok(())
            }
            WeightProblem::Shape { name, expected, got, declared_at, hint } => {
                write!(
                    f,
                    "shape mismatch `{name}`: the graph expects {}, the checkpoint has {got:?}, declared at {declared_at}",
                    ShapeDisplay(expected)
                )?;
                if let Some(h) = hint {
                    write!(f, "\n      hint: {h}")?;
                }
                Ok(())
            }
            WeightProblem::DType { name, expected, got, declared_at } => write!(
                f,
                "dtype `{name}`: stored as {got}, which cannot be converted to {expected}, declared at {declared_at}"
            ),
        }
    }
}

impl fmt::Display for WeightReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{n} weight problem{} in graph `{}` against {}:",
            if n == 1 { "" } else { "s" },
            self.graph,
            self.origin
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        match &self.prefix_hint {
            Some(PrefixHint::FileHasPrefix { prefix, explains }) => writeln!(
                f,
                "  hint: {explains} missing names exist in the checkpoint with the prefix `{prefix}`; \
                 open it with Weights::with_prefix(\"{prefix}\")"
            )?,
            Some(PrefixHint::GraphHasPrefix { prefix, explains }) => writeln!(
                f,
                "  hint: {explains} missing names exist in the checkpoint without the prefix `{prefix}`; \
                 the graph adds a prefix the checkpoint does not have"
            )?,
            None => {}
        }
        write_unused(f, &self.unused)
    }
}

/// The warning block listing unused tensors (shared with `CheckedWeights`).
pub(crate) fn write_unused(f: &mut fmt::Formatter<'_>, unused: &[UnusedTensor]) -> fmt::Result {
    if unused.is_empty() {
        return Ok(());
    }
    let n = unused.len();
    writeln!(
        f,
        "warning: {n} tensor{} in the checkpoint {} not used by the graph:",
        if n == 1 { "" } else { "s" },
        if n == 1 { "is" } else { "are" }
    )?;
    for u in unused {
        writeln!(f, "  - `{}` {}{:?}", u.name, u.file_dtype, u.shape)?;
    }
    Ok(())
}
