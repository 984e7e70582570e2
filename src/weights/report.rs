//! The one report `check_weights` produces: every problem, with hints.

use super::suggest::PrefixHint;
use crate::graph::{DType, Dim, ShapeDisplay, SourceLoc};
use std::fmt;

/// One thing wrong between a graph's declared weights and the registry.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum WeightProblem {
    /// The graph declares a weight the registry lacks.
    Missing {
        /// The stored name looked for (the graph's name with the registry's prefix).
        name: String,
        /// The declared dtype.
        dtype: DType,
        /// The declared shape.
        shape: Vec<Dim>,
        /// The model line that declared the weight.
        declared_at: SourceLoc,
        /// The closest stored names (a typo, a renamed module), closest first.
        closest: Vec<String>,
    },
    /// Present, but with another shape.
    Shape {
        /// The stored name.
        name: String,
        /// The declared shape.
        expected: Vec<Dim>,
        /// The stored shape.
        got: Vec<usize>,
        /// The model line that declared the weight.
        declared_at: SourceLoc,
        /// The likely cause, when one fits (a transposed Linear weight).
        hint: Option<String>,
    },
    /// Present, but stored in a format that cannot become the declared dtype.
    DType {
        /// The stored name.
        name: String,
        /// The declared dtype.
        expected: DType,
        /// The stored dtype, as the file spells it.
        got: String,
        /// The model line that declared the weight.
        declared_at: SourceLoc,
    },
}

/// A stored tensor no weight of the graph reads. Usually harmless (buffers
/// such as `position_ids`), but an unused `ln_post.weight` is how a missing
/// final layer norm shows up.
#[derive(Debug, Clone, PartialEq)]
pub struct UnusedTensor {
    /// The stored name.
    pub name: String,
    /// The dtype as the file spells it.
    pub file_dtype: String,
    /// The stored shape.
    pub shape: Vec<usize>,
}

/// Every weight problem of one graph against one registry.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightReport {
    /// The graph's name.
    pub graph: String,
    /// What the registry was opened from (file names), as [`Weights::origin`](super::Weights::origin) says.
    pub origin: String,
    /// Every problem, ordered by the model line that declared the weight.
    pub problems: Vec<WeightProblem>,
    /// Stored tensors no weight reads (warnings).
    pub unused: Vec<UnusedTensor>,
    /// One prefix that explains most missing names at once, when there is one.
    pub prefix_hint: Option<PrefixHint>,
}

impl WeightReport {
    /// Whether there are no problems (unused tensors are only warnings).
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
