//! Optimizers as IR: functions that append a parameter update to the graph
//! that computes the gradients, so one training step (forward, backward,
//! clipping, update) compiles to one program and parameters and optimizer
//! state stay in device buffers.
//!
//! ```
//! use wgraph::optim::{OptimizerConfig, Recipe, Schedule};
//! use wgraph::{autodiff, ops, DType, Graph, Interpreter, Tensor, Weights};
//! let g = Graph::new("fit");
//! let x = g.input("x", DType::F32, [4, 3]);
//! let w = g.weight("w", DType::F32, [3, 2]);
//! let loss = ops::mean(&ops::sum(&ops::matmul(&x, &w), -1, false), 0, false);
//! let grads = autodiff::backward(&loss, &[w.clone()]).unwrap();
//! let recipe = Recipe::new(OptimizerConfig::default())
//!     .with_clip_norm(1.0)
//!     .with_schedule(Schedule::Linear { warmup: 2, total: 10 });
//! let update = recipe.append(grads.params(), grads.values()).unwrap();
//! g.output_named([("loss".to_string(), loss.clone())]).unwrap();
//! g.output_named(update.named_outputs()).unwrap();
//!
//! // Step 1: initial weights and zero state; feed the outputs back after.
//! let mut weights = Weights::from_tensors(update.initial_state().unwrap());
//! weights.insert("w", Tensor::zeros(DType::F32, [3, 2]).unwrap());
//! let mut inputs = update.step_inputs(1).unwrap();
//! inputs.push(("x".into(), Tensor::zeros(DType::F32, [4, 3]).unwrap()));
//! let out = Interpreter::new().run(&g, &weights, inputs).unwrap();
//! for (name, _) in update.named_outputs() {
//!     weights.insert(name.clone(), out.get(&name).unwrap().clone());
//! }
//! ```
//!
//! - **Parameters** are `Op::Weight` nodes; the new value of each is output
//!   under the weight's own name ([`Update::named_outputs`]), so a step's
//!   outputs are the next step's weights.
//! - **Optimizer state** tensors are graph weights too, named
//!   `optimizer.<param>.exp_avg`, `optimizer.<param>.exp_avg_sq` or
//!   `optimizer.<param>.momentum_buffer` ([`StateSlot`]), each exactly its
//!   parameter's shape and dtype, starting at zeros
//!   ([`Update::initial_state`]).
//! - **Per-step scalars** (learning rate, bias corrections, step size,
//!   weight-decay factor) are rank-0 graph inputs named `optimizer.*` in the
//!   parameters' dtype, computed on the host in f64 for step `t` (1-based)
//!   as PyTorch computes them ([`step_scalars`], [`Update::step_inputs`]).
//!   One compiled program serves every step, and a learning-rate
//!   [`Schedule`] costs nothing on the device.
//! - The update rules follow `torch.optim`'s single-tensor code operation
//!   by operation ([`sgd`] and [`adam`] document them), clipping follows
//!   `torch.nn.utils.clip_grad_norm_` ([`clip`]), schedules follow
//!   `transformers`' `get_*_schedule_with_warmup` under `LambdaLR`
//!   ([`schedule`]).

pub mod adam;
pub mod clip;
mod config;
mod error;
mod recipe;
pub mod schedule;
pub mod sgd;
mod state;
mod update;

pub use clip::{clip_grad_norm, global_norm, Clipped};
pub use config::{AdamConfig, OptimizerConfig, OptimizerKind, SgdConfig};
pub use error::OptimError;
pub use recipe::{OptimFlags, Recipe};
pub use schedule::{Schedule, ScheduleKind};
pub use state::{StateSlot, StateUpdate};
pub use update::{append, step_scalars, ParamUpdate, StepScalars, Update};
