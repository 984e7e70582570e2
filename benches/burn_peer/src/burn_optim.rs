//! One burn training step with the recipe wgraph's `Trainer` runs: AdamW
//! with PyTorch's defaults and, for the reversal model, global-norm
//! gradient clipping as `torch.nn.utils.clip_grad_norm_` computes it.
//!
//! burn's own `GradientClippingConfig::Norm(c)` clips every parameter's
//! gradient by that parameter's own norm, which is not the same update; it
//! is available with `--burn-builtin-clipping` to see what it costs, and
//! the default is the global norm written here with burn tensor ops.

use burn::grad_clipping::GradientClippingConfig;
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

/// Gradient clipping of a burn training step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clipping {
    None,
    /// One coefficient for all gradients from their joint 2-norm (PyTorch, wgraph).
    GlobalNorm(f32),
    /// burn's `GradientClippingConfig::Norm`: each gradient by its own norm.
    BurnPerParameter(f32),
}

/// AdamW (`torch.optim.AdamW` defaults except `lr`/`weight_decay` given)
/// and the clipping, stepping a module of type `M`.
pub struct BurnOptimizer {
    optim: ModuleOptimizer,
    lr: f64,
    clipping: Clipping,
}

impl BurnOptimizer {
    /// betas 0.9 / 0.999 and eps 1e-8 are PyTorch's; burn's `AdamWConfig`
    /// defaults to eps 1e-5 and weight decay 1e-4, so both are set here.
    pub fn adamw(lr: f64, weight_decay: f32, clipping: Clipping) -> BurnOptimizer {
        let mut config =
            AdamWConfig::new().with_beta_1(0.9).with_beta_2(0.999).with_epsilon(1e-8).with_weight_decay(weight_decay);
        if let Clipping::BurnPerParameter(max) = clipping {
            config = config.with_grad_clipping(Some(GradientClippingConfig::Norm(max)));
        }
        BurnOptimizer { optim: config.init(), lr, clipping }
    }

    /// Backward from `loss`, clipping, the update, then the loss read back
    /// and the device synchronised, so the update has run when this
    /// returns (as it has when wgraph's `Trainer::step` returns).
    pub fn step<M: Module>(&mut self, model: M, loss: Tensor<1>, device: &Device) -> Result<(M, f32), String> {
        let grads = loss.backward();
        let mut grads = GradientsParams::from_grads(grads, &model);
        if let Clipping::GlobalNorm(max) = self.clipping {
            clip_global_norm(&model, &mut grads, max);
        }
        let model = self.optim.step(self.lr, model, grads);
        let value = loss.into_scalar::<f32>();
        device.sync().map_err(|e| format!("burn device sync failed: {e:?}"))?;
        Ok((model, value))
    }
}

/// `clip_coef = max_norm / (total_norm + 1e-6)`, clamped to 1, times every
/// gradient, the coefficient kept on the device (no read-back mid-step).
fn clip_global_norm<M: Module>(model: &M, grads: &mut GradientsParams, max_norm: f32) {
    let mut squares = SumOfSquares { grads, total: None };
    model.visit(&mut squares);
    let Some(total) = squares.total else { return };
    let coef = total.sqrt().add_scalar(1e-6).recip().mul_scalar(max_norm).clamp_max(1.0);
    model.visit(&mut Scale { grads, coef });
}

/// Adds up `sum(g^2)` over every float parameter's gradient.
struct SumOfSquares<'a> {
    grads: &'a GradientsParams,
    total: Option<Tensor<1>>,
}

impl ModuleVisitor for SumOfSquares<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.square().sum();
            self.total = Some(match self.total.take() {
                Some(t) => t + s,
                None => s,
            });
        }
    }
}

/// Multiplies every float parameter's gradient by `coef` (shape `[1]`).
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    coef: Tensor<1>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g * self.coef.clone().unsqueeze::<D>());
        }
    }
}
