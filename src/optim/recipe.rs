//! A whole training-step recipe (optimizer, clipping, schedule), buildable
//! from the `wgraph train` flags.

use super::clip::clip_grad_norm;
use super::config::{OptimizerConfig, OptimizerKind};
use super::error::OptimError;
use super::schedule::{Schedule, ScheduleKind};
use super::update::{append_at, Update};
use crate::graph::{SourceLoc, Value};

/// The `wgraph train` flags that choose the update, as a command-line
/// parser fills them. `None` means PyTorch's default for the chosen
/// optimizer (so `--weight-decay` defaults to 0.01 for AdamW and 0 for SGD).
#[derive(Debug, Clone, PartialEq)]
pub struct OptimFlags {
    /// `--optimizer adamw|adam|sgd`.
    pub optimizer: OptimizerKind,
    /// `--lr`.
    pub lr: Option<f64>,
    /// `--weight-decay`.
    pub weight_decay: Option<f64>,
    /// `--momentum` (SGD only).
    pub momentum: Option<f64>,
    /// `--clip-norm`: clip the global gradient 2-norm to this.
    pub clip_norm: Option<f64>,
    /// `--warmup`: linear warmup steps.
    pub warmup: Option<u64>,
    /// `--schedule constant|linear|cosine` after the warmup (constant when absent).
    pub schedule: Option<ScheduleKind>,
    /// `--steps`: the number of training steps (where linear and cosine reach 0).
    pub steps: u64,
}

impl Default for OptimFlags {
    fn default() -> OptimFlags {
        OptimFlags {
            optimizer: OptimizerKind::AdamW,
            lr: None,
            weight_decay: None,
            momentum: None,
            clip_norm: None,
            warmup: None,
            schedule: None,
            steps: 0,
        }
    }
}

/// What one training step does after the gradients: optional global-norm
/// clipping, then the optimizer at the scheduled learning rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recipe {
    /// The optimizer and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// `max_norm` of `clip_grad_norm_`, when clipping.
    pub clip_norm: Option<f64>,
    /// The learning-rate schedule.
    pub schedule: Schedule,
}

impl Default for Recipe {
    /// AdamW with PyTorch's defaults, no clipping, a constant learning rate.
    fn default() -> Recipe {
        Recipe::new(OptimizerConfig::default())
    }
}

impl Recipe {
    /// `optimizer` with no clipping and a constant learning rate.
    pub fn new(optimizer: OptimizerConfig) -> Recipe {
        Recipe { optimizer, clip_norm: None, schedule: Schedule::default() }
    }

    /// This recipe clipping the global gradient norm to `max_norm`.
    pub fn with_clip_norm(mut self, max_norm: f64) -> Recipe {
        self.clip_norm = Some(max_norm);
        self
    }

    /// This recipe following `schedule`.
    pub fn with_schedule(mut self, schedule: Schedule) -> Recipe {
        self.schedule = schedule;
        self
    }

    /// The recipe the `wgraph train` flags describe, validated.
    pub fn from_flags(flags: &OptimFlags) -> Result<Recipe, OptimError> {
        let mut optimizer = OptimizerConfig::defaults(flags.optimizer);
        if let Some(lr) = flags.lr {
            optimizer = optimizer.with_lr(lr);
        }
        if let Some(wd) = flags.weight_decay {
            optimizer = optimizer.with_weight_decay(wd);
        }
        if let Some(m) = flags.momentum {
            optimizer = optimizer.with_momentum(m)?;
        }
        optimizer.validate()?;
        let kind = flags.schedule.unwrap_or(ScheduleKind::Constant);
        let schedule = Schedule::new(kind, flags.warmup.unwrap_or(0), flags.steps);
        let recipe = Recipe { optimizer, clip_norm: flags.clip_norm, schedule };
        recipe.validate()?;
        Ok(recipe)
    }

    /// The optimizer's checks plus `clip_norm` finite and >= 0.
    pub fn validate(&self) -> Result<(), OptimError> {
        self.optimizer.validate()?;
        match self.clip_norm {
            Some(c) if !(c.is_finite() && c >= 0.0) => {
                Err(OptimError::InvalidHyperparameter { name: "max_norm", value: c, expected: "finite, >= 0" })
            }
            _ => Ok(()),
        }
    }

    /// Appends the step to the gradients' graph: clipping (when on) then the
    /// optimizer. `params` are weights, `grads` their gradients in order (as
    /// `autodiff::backward` returns them). Every new node carries the
    /// caller's line.
    #[track_caller]
    pub fn append(&self, params: &[Value], grads: &[Value]) -> Result<Update, OptimError> {
        let location = SourceLoc::caller();
        self.validate()?;
        if params.len() != grads.len() {
            return Err(OptimError::LengthMismatch { params: params.len(), grads: grads.len() });
        }
        let (grads, total_norm) = match self.clip_norm {
            Some(max_norm) => {
                // Called directly so that #[track_caller] gives the clipping
                // nodes this function's caller's line too.
                let clipped = clip_grad_norm(grads, max_norm)?;
                (clipped.grads, Some(clipped.total_norm))
            }
            None => (grads.to_vec(), None),
        };
        append_at(&self.optimizer, self.schedule, params, &grads, total_norm, location)
    }
}
