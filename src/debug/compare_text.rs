//! How `wgraph compare` prints a [`Comparison`]: the table in walk order,
//! the names only one side has, the first divergence with its diagnosis,
//! and, for dumps with gradients, which pass it is in and what that means.

use super::compare::Comparison;
use super::walk::{Section, GRAD_PREFIX};
use std::fmt;

fn shape_str(s: &[usize]) -> String {
    format!("{s:?}").replace(' ', "")
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self.rows.iter().map(|r| r.name.len()).max().unwrap_or(4).clamp(4, 70);
        writeln!(
            f,
            "{:<width$}  {:<16} {:>10} {:>10} {:>9} {:>9}  {:>10} {:>10}  {:>10} {:>10}",
            "name", "shape", "max|d|", "mean|d|", "rel", "cosine", "ours mean", "ours std", "ref mean", "ref std"
        )?;
        let mut in_gradients = false;
        for r in &self.rows {
            if !in_gradients && Section::of(&r.name) == Section::Gradient {
                in_gradients = true;
                writeln!(f, "-- gradients, in backward order (from the loss towards the inputs) --")?;
            }
            let mark = if r.agrees { " " } else { "!" };
            let shape = if r.ours_shape == r.ref_shape {
                shape_str(&r.ours_shape)
            } else {
                format!("{}/{}", shape_str(&r.ours_shape), shape_str(&r.ref_shape))
            };
            write!(
                f,
                "{:<width$}  {:<16} {:>10.3e} {:>10.3e} {:>9.2e} {:>9.6} {:>10.4} {:>10.4} {:>10.4} {:>10.4} {mark}",
                r.name,
                shape,
                r.max_abs,
                r.mean_abs,
                r.relative,
                r.cosine,
                r.ours.mean,
                r.ours.std,
                r.reference.mean,
                r.reference.std
            )?;
            if let Some(note) = &r.note {
                write!(f, "  ({note})")?;
            }
            writeln!(f)?;
        }
        if !self.only_ours.is_empty() {
            writeln!(f, "only in ours ({}): {}", self.only_ours.len(), self.only_ours.join(", "))?;
        }
        if !self.only_reference.is_empty() {
            writeln!(f, "only in the reference ({}): {}", self.only_reference.len(), self.only_reference.join(", "))?;
        }
        let unchecked = if self.unchecked_before_divergence.is_empty() {
            String::new()
        } else {
            format!(
                "\n  unchecked just before it (reference tensors ours lacks): {}",
                self.unchecked_before_divergence.join(", ")
            )
        };
        match &self.first_divergence {
            Some((name, Some(why))) => write!(f, "first divergence: {name}\n  diagnosis: {why}{unchecked}")?,
            Some((name, None)) => write!(f, "first divergence: {name}{unchecked}")?,
            None => write!(
                f,
                "no divergence ({} tensors within rtol {} atol {})",
                self.rows.len(),
                self.tolerance.rtol,
                self.tolerance.atol
            )?,
        }
        match self.pass_note() {
            Some(note) => write!(f, "\n  {note}"),
            None => Ok(()),
        }
    }
}

impl Comparison {
    /// For dumps with gradients: which pass the first divergence is in, and
    /// what that says about where the bug is. None for forward-only dumps.
    fn pass_note(&self) -> Option<String> {
        let (name, _) = self.first_divergence.as_ref()?;
        let gradients = self.rows_in(Section::Gradient);
        if gradients == 0 {
            return None;
        }
        let forward = self.rows_in(Section::Forward);
        let then = match &self.first_gradient_divergence {
            Some((g, _)) => format!(" (the first gradient off, `{g}`, is a consequence)"),
            None => String::new(),
        };
        Some(match Section::of(name) {
            Section::Forward if forward == 1 && name == "loss" => format!(
                "in the forward pass, but the loss is the only forward value compared: the forward differs somewhere \
                 before it and every gradient follows from that{then}; compare module outputs to find where \
                 (`wgraph grad --dump` and `tools/torch_dump.py --grads` write them)"
            ),
            Section::Forward => {
                format!("in the forward pass: every later value, the loss and the gradients follow from it{then}")
            }
            Section::Gradient => {
                let module = name.strip_prefix(GRAD_PREFIX).unwrap_or(name);
                let before = match &self.last_agreeing_gradient {
                    Some(g) => format!("the gradients computed before it agree (the last: `{g}`)"),
                    None => "it is the first gradient computed".to_string(),
                };
                match (forward, &self.last_agreeing_gradient) {
                    (0, None) => "in the backward pass, at its start, with no forward values compared: a forward \
                                  difference changes this gradient and every other, so compare module outputs to \
                                  tell a forward bug from a backward one (`wgraph grad --dump` and \
                                  `tools/torch_dump.py --grads` write them)"
                        .to_string(),
                    (0, Some(_)) => format!(
                        "in the backward pass: {before}, so the backward of what reads `{module}` is wrong \
                         (no forward values compared to confirm the forward agrees)"
                    ),
                    (_, None) => format!(
                        "in the backward pass: all {forward} forward values agree and {before}: the loss's own \
                         backward is wrong"
                    ),
                    (_, Some(_)) => format!(
                        "in the backward pass: all {forward} forward values agree and {before}: the backward of \
                         what reads `{module}` is wrong (a detached value, a missing path, a wrong gradient rule)"
                    ),
                }
            }
        })
    }
}
