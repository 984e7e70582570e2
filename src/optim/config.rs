//! Optimizer descriptors: plain data with torch.optim's defaults, validated
//! with torch.optim's checks, so a command line can build one from flags.

use super::error::OptimError;
use std::fmt;
use std::str::FromStr;

/// Which optimizer: `sgd`, `adam` or `adamw` (case-insensitive) on a
/// command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptimizerKind {
    /// `torch.optim.SGD`.
    Sgd,
    /// `torch.optim.Adam` (L2 weight decay added to the gradient).
    Adam,
    /// `torch.optim.AdamW` (decoupled weight decay).
    AdamW,
}

impl OptimizerKind {
    /// The command-line spelling: `sgd`, `adam`, `adamw`.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Sgd => "sgd",
            OptimizerKind::Adam => "adam",
            OptimizerKind::AdamW => "adamw",
        }
    }
}

impl fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OptimizerKind {
    type Err = OptimError;

    fn from_str(s: &str) -> Result<OptimizerKind, OptimError> {
        match s.to_ascii_lowercase().as_str() {
            "sgd" => Ok(OptimizerKind::Sgd),
            "adam" => Ok(OptimizerKind::Adam),
            "adamw" => Ok(OptimizerKind::AdamW),
            _ => Err(OptimError::UnknownOptimizer { name: s.to_string() }),
        }
    }
}

/// `torch.optim.SGD`'s hyperparameters; `Default` is PyTorch's
/// (`lr=1e-3`, everything else off).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Base learning rate (before the schedule).
    pub lr: f64,
    /// Momentum factor; 0 keeps no momentum buffer.
    pub momentum: f64,
    /// Dampening of the gradient added to the momentum buffer (not on the
    /// first step, where PyTorch sets the buffer to the gradient).
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for SgdConfig {
    fn default() -> SgdConfig {
        SgdConfig { lr: 1e-3, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, maximize: false }
    }
}

/// `torch.optim.Adam`/`AdamW`'s hyperparameters. `Default` is Adam's
/// (`lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0`);
/// [`AdamConfig::adamw_default`] is AdamW's (`weight_decay=1e-2`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    /// Base learning rate (before the schedule).
    pub lr: f64,
    /// Decay of the first moment (`beta1`).
    pub beta1: f64,
    /// Decay of the second moment (`beta2`).
    pub beta2: f64,
    /// Added to the bias-corrected root of the second moment.
    pub eps: f64,
    /// L2 penalty (Adam) or decoupled decay rate (AdamW).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for AdamConfig {
    fn default() -> AdamConfig {
        AdamConfig { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, maximize: false }
    }
}

impl AdamConfig {
    /// `torch.optim.AdamW`'s defaults: Adam's with `weight_decay=1e-2`.
    pub fn adamw_default() -> AdamConfig {
        AdamConfig { weight_decay: 1e-2, ..AdamConfig::default() }
    }
}

/// One optimizer with its hyperparameters. `Default` is AdamW with
/// PyTorch's defaults (the `wgraph train` default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerConfig {
    /// `torch.optim.SGD`.
    Sgd(SgdConfig),
    /// `torch.optim.Adam`: weight decay is added to the gradient.
    Adam(AdamConfig),
    /// `torch.optim.AdamW`: `p *= 1 - lr * weight_decay` before the Adam step.
    AdamW(AdamConfig),
}

impl Default for OptimizerConfig {
    fn default() -> OptimizerConfig {
        OptimizerConfig::defaults(OptimizerKind::AdamW)
    }
}

impl OptimizerConfig {
    /// PyTorch's defaults for `kind`.
    pub fn defaults(kind: OptimizerKind) -> OptimizerConfig {
        match kind {
            OptimizerKind::Sgd => OptimizerConfig::Sgd(SgdConfig::default()),
            OptimizerKind::Adam => OptimizerConfig::Adam(AdamConfig::default()),
            OptimizerKind::AdamW => OptimizerConfig::AdamW(AdamConfig::adamw_default()),
        }
    }

    /// Which optimizer this is.
    pub fn kind(&self) -> OptimizerKind {
        match self {
            OptimizerConfig::Sgd(_) => OptimizerKind::Sgd,
            OptimizerConfig::Adam(_) => OptimizerKind::Adam,
            OptimizerConfig::AdamW(_) => OptimizerKind::AdamW,
        }
    }

    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd(c) => c.lr,
            OptimizerConfig::Adam(c) | OptimizerConfig::AdamW(c) => c.lr,
        }
    }

    /// The weight decay (L2 for SGD and Adam, decoupled for AdamW).
    pub fn weight_decay(&self) -> f64 {
        match self {
            OptimizerConfig::Sgd(c) => c.weight_decay,
            OptimizerConfig::Adam(c) | OptimizerConfig::AdamW(c) => c.weight_decay,
        }
    }

    /// This config with base learning rate `lr`.
    pub fn with_lr(mut self, lr: f64) -> OptimizerConfig {
        match &mut self {
            OptimizerConfig::Sgd(c) => c.lr = lr,
            OptimizerConfig::Adam(c) | OptimizerConfig::AdamW(c) => c.lr = lr,
        }
        self
    }

    /// This config with weight decay `weight_decay`.
    pub fn with_weight_decay(mut self, weight_decay: f64) -> OptimizerConfig {
        match &mut self {
            OptimizerConfig::Sgd(c) => c.weight_decay = weight_decay,
            OptimizerConfig::Adam(c) | OptimizerConfig::AdamW(c) => c.weight_decay = weight_decay,
        }
        self
    }

    /// This config with SGD momentum `momentum`; an error for Adam and
    /// AdamW, whose momentum is `beta1`.
    pub fn with_momentum(mut self, momentum: f64) -> Result<OptimizerConfig, OptimError> {
        match &mut self {
            OptimizerConfig::Sgd(c) => c.momentum = momentum,
            other => {
                return Err(OptimError::NotApplicable { option: "--momentum", optimizer: other.kind().name() });
            }
        }
        Ok(self)
    }

    /// The checks torch.optim's constructors make: `lr >= 0`, `eps >= 0`,
    /// `0 <= beta < 1`, `momentum >= 0`, `weight_decay >= 0`, and Nesterov
    /// only with momentum and no dampening. Non-finite values are refused.
    pub fn validate(&self) -> Result<(), OptimError> {
        let check = |name: &'static str, value: f64, ok: bool, expected: &'static str| {
            if ok && value.is_finite() {
                Ok(())
            } else {
                Err(OptimError::InvalidHyperparameter { name, value, expected })
            }
        };
        match self {
            OptimizerConfig::Sgd(c) => {
                check("learning rate", c.lr, c.lr >= 0.0, ">= 0")?;
                check("momentum", c.momentum, c.momentum >= 0.0, ">= 0")?;
                check("dampening", c.dampening, true, "a finite number")?;
                check("weight_decay", c.weight_decay, c.weight_decay >= 0.0, ">= 0")?;
                if c.nesterov && (c.momentum <= 0.0 || c.dampening != 0.0) {
                    return Err(OptimError::Nesterov { momentum: c.momentum, dampening: c.dampening });
                }
            }
            OptimizerConfig::Adam(c) | OptimizerConfig::AdamW(c) => {
                check("learning rate", c.lr, c.lr >= 0.0, ">= 0")?;
                check("epsilon", c.eps, c.eps >= 0.0, ">= 0")?;
                check("beta1", c.beta1, (0.0..1.0).contains(&c.beta1), "0 <= beta1 < 1")?;
                check("beta2", c.beta2, (0.0..1.0).contains(&c.beta2), "0 <= beta2 < 1")?;
                check("weight_decay", c.weight_decay, c.weight_decay >= 0.0, ">= 0")?;
            }
        }
        Ok(())
    }
}
