//! Learning-rate schedules, computed on the host: the learning rate reaches
//! the graph as a scalar input each step, so a schedule costs nothing on the
//! device and one compiled program serves every step.
//!
//! The factors are `transformers`' `lr_lambda`s, evaluated with the same
//! float operations, and applied with `torch.optim.lr_scheduler.LambdaLR`'s
//! indexing: constructing the scheduler evaluates `lr_lambda(0)`, which the
//! first update uses, and each `scheduler.step()` after an update moves to
//! the next index. So update `t` (1-based) uses `base_lr * lr_lambda(t - 1)`;
//! with warmup, the first update has learning rate 0, exactly as in a
//! Hugging Face training loop.

use super::error::OptimError;
use std::fmt;
use std::str::FromStr;

/// The shape of a schedule after its warmup, as a command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleKind {
    /// `constant`: the base learning rate (after warmup).
    Constant,
    /// `linear`: linear decay to 0 at the last training step.
    Linear,
    /// `cosine`: half a cosine from the base rate to 0.
    Cosine,
}

impl ScheduleKind {
    /// The command-line spelling: `constant`, `linear`, `cosine`.
    pub fn name(self) -> &'static str {
        match self {
            ScheduleKind::Constant => "constant",
            ScheduleKind::Linear => "linear",
            ScheduleKind::Cosine => "cosine",
        }
    }
}

impl fmt::Display for ScheduleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ScheduleKind {
    type Err = OptimError;

    fn from_str(s: &str) -> Result<ScheduleKind, OptimError> {
        match s.to_ascii_lowercase().as_str() {
            "constant" => Ok(ScheduleKind::Constant),
            "linear" => Ok(ScheduleKind::Linear),
            "cosine" => Ok(ScheduleKind::Cosine),
            _ => Err(OptimError::UnknownSchedule { name: s.to_string() }),
        }
    }
}

/// A learning-rate schedule: a factor of the base learning rate per step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// `get_constant_schedule` (`warmup = 0`) or
    /// `get_constant_schedule_with_warmup`: `s / max(1, warmup)` while
    /// `s < warmup`, then 1.
    Constant {
        /// Warmup steps.
        warmup: u64,
    },
    /// `get_linear_schedule_with_warmup`: linear warmup, then
    /// `max(0, (total - s) / max(1, total - warmup))`.
    Linear {
        /// Warmup steps.
        warmup: u64,
        /// `num_training_steps`: the factor reaches 0 there.
        total: u64,
    },
    /// `get_cosine_schedule_with_warmup`: linear warmup, then
    /// `max(0, 0.5 * (1 + cos(pi * cycles * 2 * progress)))` with
    /// `progress = (s - warmup) / max(1, total - warmup)`. Past `total` the
    /// factor follows the cosine (it is not clamped), as in `transformers`.
    Cosine {
        /// Warmup steps.
        warmup: u64,
        /// `num_training_steps`.
        total: u64,
        /// `num_cycles`; `transformers`' default is 0.5 (one half cosine).
        cycles: f64,
    },
}

impl Default for Schedule {
    /// A constant learning rate: `torch.optim` without a scheduler.
    fn default() -> Schedule {
        Schedule::Constant { warmup: 0 }
    }
}

impl Schedule {
    /// The schedule of `kind` with `warmup` warmup steps over `total`
    /// training steps (cosine with `transformers`' default half cycle).
    pub fn new(kind: ScheduleKind, warmup: u64, total: u64) -> Schedule {
        match kind {
            ScheduleKind::Constant => Schedule::Constant { warmup },
            ScheduleKind::Linear => Schedule::Linear { warmup, total },
            ScheduleKind::Cosine => Schedule::Cosine { warmup, total, cycles: 0.5 },
        }
    }

    /// `lr_lambda(current_step)`: the factor of the base learning rate at
    /// LambdaLR's index `current_step` (0 for the first update).
    pub fn factor(&self, current_step: u64) -> f64 {
        let s = current_step as i128;
        let warmup_factor = |warmup: u64| (s as f64) / (warmup.max(1) as f64);
        match *self {
            Schedule::Constant { warmup } => {
                if s < warmup as i128 {
                    warmup_factor(warmup)
                } else {
                    1.0
                }
            }
            Schedule::Linear { warmup, total } => {
                if s < warmup as i128 {
                    return warmup_factor(warmup);
                }
                let (w, n) = (warmup as i128, total as i128);
                f64::max(0.0, ((n - s) as f64) / ((n - w).max(1) as f64))
            }
            Schedule::Cosine { warmup, total, cycles } => {
                if s < warmup as i128 {
                    return warmup_factor(warmup);
                }
                let (w, n) = (warmup as i128, total as i128);
                let progress = ((s - w) as f64) / ((n - w).max(1) as f64);
                f64::max(0.0, 0.5 * (1.0 + (std::f64::consts::PI * cycles * 2.0 * progress).cos()))
            }
        }
    }

    /// The learning rate of update `step` (1-based): `base_lr *
    /// lr_lambda(step - 1)`, as LambdaLR sets `group["lr"]`.
    pub fn lr(&self, base_lr: f64, step: u64) -> Result<f64, OptimError> {
        if step == 0 {
            return Err(OptimError::StepZero);
        }
        Ok(base_lr * self.factor(step - 1))
    }
}
