//! Argument blocks several commands share, flattened into their own.

use crate::error::bad;
use crate::Result;
use std::path::PathBuf;

/// A checkpoint, its inputs and where the results go (`run`, `grad`).
#[derive(clap::Args)]
pub(crate) struct ModelIo {
    /// HF checkpoint directory (config.json + model.safetensors).
    pub(crate) model_dir: PathBuf,
    /// HF forward arguments, one tensor each (input_ids, attention_mask,
    /// token_type_ids, input_features; any integer dtype); `grad` also
    /// needs `labels`: class ids [batch], float targets [batch] or
    /// [batch, num_labels], or token ids [batch, seq].
    #[arg(long)]
    pub(crate) inputs: PathBuf,
    /// Where to write the results, atomically: `run` the outputs (`logits`,
    /// `last_hidden_state`), `grad` the `loss` and every parameter's gradient.
    #[arg(long)]
    pub(crate) output: PathBuf,
    /// Also write every named intermediate (HF module paths), in execution
    /// order, to this file; `grad` adds the gradient with respect to each as
    /// `grad/<module path>` (compare with tools/torch_dump.py --grads).
    #[arg(long)]
    pub(crate) dump: Option<PathBuf>,
}

/// A checkpoint and an inputs file (`check`, `find-nan`).
#[derive(clap::Args)]
pub(crate) struct ModelInputs {
    /// HF checkpoint directory (config.json + model.safetensors).
    pub(crate) model_dir: PathBuf,
    /// HF forward arguments, one tensor each.
    #[arg(long)]
    pub(crate) inputs: PathBuf,
}

/// How close two values must be (`compare`, `check`).
#[derive(clap::Args)]
pub(crate) struct Tolerances {
    /// Relative tolerance.
    #[arg(long, default_value_t = 1e-3)]
    pub(crate) rtol: f64,
    /// Absolute tolerance.
    #[arg(long, default_value_t = 1e-4)]
    pub(crate) atol: f64,
}

impl Tolerances {
    /// Finite and non-negative: `--rtol NaN` would make every comparison
    /// fail (and look like a divergence) instead of being refused.
    pub(crate) fn checked(&self) -> Result<wgraph::debug::Tolerance> {
        for (flag, v) in [("--rtol", self.rtol), ("--atol", self.atol)] {
            if !v.is_finite() || v < 0.0 {
                return Err(bad(format!("{flag} {v}: a tolerance must be a finite number >= 0 (for example 1e-3)")));
            }
        }
        Ok(wgraph::debug::Tolerance { rtol: self.rtol, atol: self.atol })
    }
}
