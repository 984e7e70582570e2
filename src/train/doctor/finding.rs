//! What the doctor can find, as data, and the one line it prints for each.

use std::fmt;

/// Whether an update is too small or too large for its weight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Far below ~1e-3: the learning rate is too small.
    TooSmall,
    /// Far above ~1e-3: the learning rate is too large.
    TooLarge,
}

/// One reason a model may not learn.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Finding {
    /// A parameter given to the optimizer that the loss does not read.
    Unreachable {
        /// The parameter.
        param: String,
    },
    /// A parameter whose every path to the loss goes through an op without
    /// a gradient, so its gradient is structurally zero.
    BlockedGradient {
        /// The parameter.
        param: String,
        /// The first op without a gradient on its way (`argmax`, `eq`, a cast to an integer).
        op: &'static str,
        /// That node, by name or `%index`, with the Rust line that built it.
        node: String,
    },
    /// A weight of the graph that the optimizer was not given.
    Frozen {
        /// The weight.
        param: String,
    },
    /// A graph input the loss does not read.
    UnusedInput {
        /// The input.
        input: String,
    },
    /// A gradient exactly zero at every step (or in some rows, for a matrix
    /// that is not an embedding table read by index).
    ZeroGradient {
        /// The parameter.
        param: String,
        /// `(zero rows, rows)` when only some rows are zero.
        rows: Option<(usize, usize)>,
    },
    /// Trained parameters that did not change over a step (the first step
    /// at which any did not).
    Unchanged {
        /// The parameters.
        params: Vec<String>,
        /// The step (1-based).
        step: u64,
    },
    /// The first value that became NaN or infinite.
    NonFinite {
        /// The step (1-based).
        step: u64,
        /// The node, by name or op and line.
        node: String,
        /// `activation` or `gradient`.
        kind: &'static str,
    },
    /// Update-to-weight ratios far from ~1e-3.
    UpdateRatio {
        /// The parameters concerned (a few, in the message).
        params: Vec<String>,
        /// Their median ratio.
        ratio: f64,
        /// Too small or too large.
        scale: Scale,
    },
    /// The loss did not decrease over the run.
    LossFlat {
        /// Steps observed.
        steps: usize,
        /// Mean loss of the first steps.
        first: f64,
        /// Mean loss of the last steps.
        last: f64,
    },
    /// An activation that is zero for every input in most of its units.
    DeadActivation {
        /// The activation node.
        node: String,
        /// Fraction of units zero for every input.
        fraction: f64,
    },
    /// An activation saturated (tanh near +-1, sigmoid near 0 or 1) for
    /// every input in most of its units: its gradient vanishes there.
    SaturatedActivation {
        /// The activation node.
        node: String,
        /// Fraction of units saturated for every input.
        fraction: f64,
    },
    /// An output position that does not depend on input positions it may need.
    Blind {
        /// The output position.
        output: usize,
        /// The first and last input positions it does not see.
        from: usize,
        /// Inclusive.
        to: usize,
        /// How many input positions there are.
        positions: usize,
    },
}

fn list(names: &[String]) -> String {
    let shown: Vec<String> = names.iter().take(4).map(|n| format!("`{n}`")).collect();
    let more = names.len().saturating_sub(4);
    if more > 0 {
        format!("{} and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("doctor: ")?;
        match self {
            Finding::Unreachable { param } => write!(
                f,
                "parameter `{param}` does not reach the loss: no path from it to the loss, so it never learns \
                 (built but never used? a positional embedding never added?)"
            ),
            Finding::BlockedGradient { param, op, node } => write!(
                f,
                "parameter `{param}` reaches the loss only through `{op}` at {node}, which has no gradient: \
                 its gradient is always zero"
            ),
            Finding::Frozen { param } => {
                write!(f, "parameter `{param}` is not updated: it is not among the parameters the optimizer was given (frozen)")
            }
            Finding::UnusedInput { input } => write!(f, "input `{input}` does not reach the loss"),
            Finding::ZeroGradient { param, rows: None } => {
                write!(f, "gradient of `{param}` is exactly zero at every step")
            }
            Finding::ZeroGradient { param, rows: Some((zero, total)) } => {
                write!(f, "gradient of `{param}` is exactly zero in {zero} of {total} rows at every step")
            }
            Finding::Unchanged { params, step } if params.len() == 1 => {
                write!(f, "parameter `{}` did not change at step {step}", params[0])
            }
            Finding::Unchanged { params, step } => write!(f, "parameters {} did not change at step {step}", list(params)),
            Finding::NonFinite { step, node, kind } => {
                write!(f, "the first non-finite value appeared at step {step}: the {kind} of {node}")
            }
            Finding::UpdateRatio { params, ratio, scale: Scale::TooSmall } => write!(
                f,
                "update-to-weight ratio {ratio:.1e} (median) for {}: far below ~1e-3, the learning rate is too small",
                list(params)
            ),
            Finding::UpdateRatio { params, ratio, scale: Scale::TooLarge } => write!(
                f,
                "update-to-weight ratio {ratio:.1e} (median) for {}: far above ~1e-3, the learning rate is too large",
                list(params)
            ),
            Finding::LossFlat { steps, first, last } if last > &(first * 1.5) => {
                write!(f, "the loss grew over {steps} steps ({first:.4} at the start, {last:.4} at the end)")
            }
            Finding::LossFlat { steps, first, last } => {
                write!(f, "the loss did not decrease over {steps} steps ({first:.4} at the start, {last:.4} at the end)")
            }
            Finding::DeadActivation { node, fraction } => write!(
                f,
                "activation `{node}` is zero for every input in {:.0}% of its units (dead): nothing flows back through them",
                100.0 * fraction
            ),
            Finding::SaturatedActivation { node, fraction } => write!(
                f,
                "activation `{node}` is saturated for every input in {:.0}% of its units: its gradient vanishes there \
                 (inputs too large? an initialisation or normalisation missing?)",
                100.0 * fraction
            ),
            Finding::Blind { output, from, to, positions } => {
                let span = if from == to { format!("{from}") } else { format!("{from}..{to}") };
                let hint = if *from > *output && *to + 1 == *positions { " (a causal mask?)" } else { "" };
                write!(f, "output position {output} does not depend on input positions {span}{hint}")
            }
        }
    }
}
