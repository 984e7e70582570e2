//! Appending an optimizer step to a graph, and the host side of each step:
//! initial state tensors and the per-step scalar inputs.

use super::adam;
use super::config::OptimizerConfig;
use super::error::OptimError;
use super::schedule::Schedule;
use super::sgd;
use super::state::{check_params, ScalarInputs, StateUpdate};
use crate::graph::{DType, SourceLoc, Tensor, Value};

/// One parameter's update: the weight, the gradient the optimizer used
/// (after clipping), the new value and the optimizer state.
#[derive(Debug, Clone)]
pub struct ParamUpdate {
    /// The parameter's weight name (its checkpoint key).
    pub name: String,
    /// The weight holding the parameter before the step.
    pub param: Value,
    /// The gradient the update read (clipped when clipping is on).
    pub grad: Value,
    /// The parameter after the step; feed it back under [`ParamUpdate::name`].
    pub new_param: Value,
    /// The optimizer state of this parameter (none for SGD without momentum).
    pub state: Vec<StateUpdate>,
}

/// The per-step scalars of one update, computed on the host in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct StepScalars {
    /// The update's step, 1-based.
    pub step: u64,
    /// The scheduled learning rate of this step.
    pub lr: f64,
    /// `(input name, value)` for every scalar input the optimizer reads.
    pub values: Vec<(String, f64)>,
}

impl StepScalars {
    /// The value of the input `name` (`optimizer.step_size`, ...).
    pub fn get(&self, name: &str) -> Option<f64> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// The values as rank-0 tensors of `dtype`, named as the graph's inputs.
    pub fn tensors(&self, dtype: DType) -> Vec<(String, Tensor)> {
        self.values
            .iter()
            .map(|(n, v)| (n.clone(), Tensor::from_f64(dtype, Vec::new(), &[*v]).expect("a scalar holds one value")))
            .collect()
    }
}

/// The host function of an optimizer: the scalar inputs of update `step`
/// (1-based) at the scheduled learning rate `lr`, computed as PyTorch
/// computes them (see the [`sgd`](super::sgd) and [`adam`](super::adam)
/// module docs for the formulas).
pub fn step_scalars(optimizer: &OptimizerConfig, step: u64, lr: f64) -> Result<StepScalars, OptimError> {
    if step == 0 {
        return Err(OptimError::StepZero);
    }
    let values = match optimizer {
        OptimizerConfig::Sgd(c) => sgd::step_scalars(c, step, lr),
        OptimizerConfig::Adam(c) => adam::step_scalars(c, false, step, lr),
        OptimizerConfig::AdamW(c) => adam::step_scalars(c, true, step, lr),
    };
    Ok(StepScalars { step, lr, values: values.into_iter().map(|(n, v)| (n.to_string(), v)).collect() })
}

/// An optimizer step appended to a graph: new parameter and state values to
/// output, state weights with their initial tensors, and the scalar inputs
/// with the host function that computes them for each step.
#[derive(Debug, Clone)]
pub struct Update {
    pub(super) optimizer: OptimizerConfig,
    pub(super) schedule: Schedule,
    pub(super) params: Vec<ParamUpdate>,
    pub(super) scalars: Vec<(String, Value)>,
    pub(super) scalar_dtype: DType,
    pub(super) total_norm: Option<Value>,
}

impl Update {
    /// The optimizer this update applies.
    pub fn optimizer(&self) -> &OptimizerConfig {
        &self.optimizer
    }

    /// The learning-rate schedule [`Update::step_inputs`] follows.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Every parameter's update, in the order given.
    pub fn params(&self) -> &[ParamUpdate] {
        &self.params
    }

    /// The global gradient norm before clipping, shape `[]`, when the update
    /// clips (see [`Recipe`](super::Recipe)).
    pub fn total_norm(&self) -> Option<&Value> {
        self.total_norm.as_ref()
    }

    /// `(weight name, new value)` for every parameter, then every state
    /// tensor: declare them with `Graph::output_named` and feed each output
    /// back as the weight of the same name for the next step.
    pub fn named_outputs(&self) -> Vec<(String, Value)> {
        let params = self.params.iter().map(|p| (p.name.clone(), p.new_param.clone()));
        let state = self.params.iter().flat_map(|p| p.state.iter().map(|s| (s.name.clone(), s.new_value.clone())));
        params.chain(state).collect()
    }

    /// Every optimizer-state weight name, parameter by parameter.
    pub fn state_names(&self) -> Vec<String> {
        self.params.iter().flat_map(|p| p.state.iter().map(|s| s.name.clone())).collect()
    }

    /// The optimizer state before the first step: zeros of each
    /// parameter's shape and dtype, named as the state weights.
    pub fn initial_state(&self) -> Result<Vec<(String, Tensor)>, OptimError> {
        let mut out = Vec::new();
        for p in &self.params {
            for s in &p.state {
                let ty = s.value.ty().expect("a state weight has a type");
                let shape: Option<Vec<usize>> = ty.shape.iter().map(|d| d.as_static()).collect();
                let zeros = shape
                    .and_then(|shape| Tensor::zeros(ty.dtype, shape).ok())
                    .ok_or_else(|| OptimError::SymbolicShape { name: p.name.clone(), shape: ty.to_string() })?;
                out.push((s.name.clone(), zeros));
            }
        }
        Ok(out)
    }

    /// The names of the scalar inputs the update reads (rank 0, of
    /// [`Update::scalar_dtype`]).
    pub fn scalar_names(&self) -> Vec<String> {
        self.scalars.iter().map(|(n, _)| n.clone()).collect()
    }

    /// The scalar inputs' values, by name.
    pub fn scalar_inputs(&self) -> &[(String, Value)] {
        &self.scalars
    }

    /// The dtype of the scalar inputs (the first parameter's).
    pub fn scalar_dtype(&self) -> DType {
        self.scalar_dtype
    }

    /// The scheduled learning rate of update `step` (1-based).
    pub fn lr(&self, step: u64) -> Result<f64, OptimError> {
        self.schedule.lr(self.optimizer.lr(), step)
    }

    /// The scalar inputs of update `step` (1-based) as f64 values, at the
    /// learning rate the schedule gives that step.
    pub fn step_scalars(&self, step: u64) -> Result<StepScalars, OptimError> {
        let mut scalars = step_scalars(&self.optimizer, step, self.lr(step)?)?;
        scalars.values.retain(|(n, _)| self.scalars.iter().any(|(m, _)| m == n));
        Ok(scalars)
    }

    /// The scalar inputs of update `step` (1-based) as rank-0 tensors of
    /// [`Update::scalar_dtype`], ready to feed with the other inputs.
    pub fn step_inputs(&self, step: u64) -> Result<Vec<(String, Tensor)>, OptimError> {
        Ok(self.step_scalars(step)?.tensors(self.scalar_dtype))
    }
}

/// Appends `optimizer`'s update of `params` (weights) by `grads` (one per
/// parameter, same type) to their graph, with a constant learning rate.
/// Every new node carries the caller's line. Use [`Recipe`](super::Recipe)
/// for clipping and a schedule.
#[track_caller]
pub fn append(optimizer: &OptimizerConfig, params: &[Value], grads: &[Value]) -> Result<Update, OptimError> {
    append_at(optimizer, Schedule::default(), params, grads, None, SourceLoc::caller())
}

/// [`append`] with a schedule, the total norm of clipping, and the location
/// new nodes carry.
pub(super) fn append_at(
    optimizer: &OptimizerConfig,
    schedule: Schedule,
    params: &[Value],
    grads: &[Value],
    total_norm: Option<Value>,
    location: SourceLoc,
) -> Result<Update, OptimError> {
    optimizer.validate()?;
    let (graph, checked) = check_params(params, grads)?;
    let scalar_dtype = checked[0].ty.dtype;
    let mut scalars = ScalarInputs::new(&graph, scalar_dtype);
    let updates = graph.with_location(location, || {
        checked
            .iter()
            .map(|p| {
                let (new_param, state) = match optimizer {
                    OptimizerConfig::Sgd(c) => sgd::update(c, p, &mut scalars),
                    OptimizerConfig::Adam(c) => adam::update(c, false, p, &mut scalars),
                    OptimizerConfig::AdamW(c) => adam::update(c, true, p, &mut scalars),
                };
                ParamUpdate { name: p.name.clone(), param: p.value.clone(), grad: p.grad.clone(), new_param, state }
            })
            .collect::<Vec<_>>()
    });
    graph.errors_as_result()?;
    Ok(Update {
        optimizer: *optimizer,
        schedule,
        params: updates,
        scalars: scalars.into_declared(),
        scalar_dtype,
        total_norm,
    })
}
