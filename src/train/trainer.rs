//! The [`Trainer`]: one compiled training step, parameters and optimizer
//! state on the device, a step counter on the host.

use super::doctor::static_checks::static_findings;
use super::doctor::Finding;
use super::error::TrainError;
use super::state_file;
use crate::autodiff::{self, Gradients};
use crate::compile::CompileOptions;
use crate::graph::{Graph, NamedTensors, NodeId, Op, Tensor, Value};
use crate::optim::{Recipe, Update};
use crate::runtime::{Device, Loader, Model};
use crate::weights::{check_ir, Weights};
use std::path::Path;

/// A training step compiled once and run many times.
///
/// Each [`Trainer::step`] uploads the batch and the step's optimizer
/// scalars (learning rate, bias corrections), runs forward, backward,
/// clipping and the update in one submission, writes the new parameters
/// and optimizer state over the old ones on the device, and reads back only
/// the loss. The same weights, data and recipe give bitwise-identical
/// losses and parameters on every run.
pub struct Trainer {
    device: Device,
    /// The caller's graph (forward, with its own outputs) for [`Trainer::evaluate`].
    forward: Graph,
    model: Model,
    /// The forward graph compiled on first use, reading the training model's weights.
    eval: Option<Model>,
    update: Update,
    gradients: Gradients,
    params: Vec<String>,
    step: u64,
    /// What the doctor sees from the graph alone.
    warnings: Vec<Finding>,
}

impl Trainer {
    /// Compiles the training step of `loss` (a float scalar of the graph)
    /// for `device`: the gradients of `params` (weights of the graph; empty
    /// means every float weight), then `recipe`'s clipping and update.
    /// Initial values of every weight of the graph come from `weights`,
    /// checked first with the usual one-report check; optimizer state
    /// starts at zero.
    pub fn new(
        device: &Device,
        loss: &Value,
        params: &[Value],
        weights: &Weights,
        recipe: Recipe,
    ) -> Result<Trainer, TrainError> {
        recipe.validate()?;
        let forward = loss.graph().clone();
        forward.errors_as_result()?;
        let loss_id = loss.clone().checked()?.node_id().ok_or(TrainError::NoLoss)?;
        // Work on a copy: the caller's graph keeps its outputs and stays usable.
        let mut ir = forward.ir_unchecked().clone();
        check_ir(&ir, weights)?;
        ir.outputs.clear();
        let step_graph = Graph::from_ir(ir);
        let in_copy = |id: NodeId| step_graph.value(id).ok_or(TrainError::NoLoss);
        let loss = in_copy(loss_id)?;
        let param_values = select_params(&step_graph, params)?;
        let gradients = autodiff::backward(&loss, &param_values)?;
        let warnings = {
            let ir = step_graph.ir_unchecked();
            let ids: Vec<NodeId> = param_values.iter().filter_map(|p| p.node_id()).collect();
            let reached: Vec<bool> = (0..ids.len()).map(|i| gradients.reaches(i)).collect();
            static_findings(&ir, loss_id, &ids, &reached)
        };
        for w in &warnings {
            tracing::warn!("{w}");
        }
        let update = recipe.append(gradients.params(), gradients.values())?;
        step_graph.output_named([("loss".to_string(), loss)])?;
        step_graph.output_named(update.named_outputs())?;

        // Every weight of the graph (frozen ones too) and the optimizer state.
        let mut registry = Weights::new();
        {
            let ir = step_graph.ir()?;
            for id in ir.weights() {
                if let Op::Weight { name, dtype, .. } = &ir.node(id).op {
                    if !name.starts_with("optimizer.") {
                        registry.insert(name.clone(), weights.get(name, *dtype)?);
                    }
                }
            }
        }
        for (name, tensor) in update.initial_state()? {
            registry.insert(name, tensor);
        }
        let options = CompileOptions {
            write_back: true,
            texture_weights: true,
            settings: device.settings().clone(),
            ..CompileOptions::default()
        };
        let model = Loader::new(device).with_options(options).load(&step_graph, &registry)?;
        let params = update.params().iter().map(|p| p.name.clone()).collect();
        Ok(Trainer { device: device.clone(), forward, model, eval: None, update, gradients, params, step: 0, warnings })
    }

    /// Runs one training step on `batch` (the graph's inputs by name) and
    /// returns the loss before the update.
    pub fn step<S: Into<String>>(&mut self, batch: impl IntoIterator<Item = (S, Tensor)>) -> Result<f32, TrainError> {
        let next = self.step + 1;
        let mut inputs: Vec<(String, Tensor)> = batch.into_iter().map(|(n, t)| (n.into(), t)).collect();
        inputs.extend(self.update.step_inputs(next)?);
        let out = self.model.run(inputs)?;
        self.step = next;
        let loss = out.get("loss").ok_or(TrainError::NoLoss)?;
        loss.to_f32_vec().first().copied().ok_or(TrainError::NoLoss)
    }

    /// Times every kernel of one training step on `batch`, in execution
    /// order. For profiling only: it trains (the step's program runs more
    /// than once, so parameters move further than one step).
    pub fn profile_step<S: Into<String>>(
        &mut self,
        batch: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<Vec<crate::runtime::KernelTime>, TrainError> {
        let next = self.step + 1;
        let mut inputs: Vec<(String, Tensor)> = batch.into_iter().map(|(n, t)| (n.into(), t)).collect();
        inputs.extend(self.update.step_inputs(next)?);
        // GPU timestamps where the adapter has them (the kernels back to
        // back, as in a step), else each kernel dispatched alone.
        let times = match self.model.profile_timestamps(inputs.clone())? {
            Some(times) => times,
            None => self.model.profile(inputs)?,
        };
        self.step = next;
        Ok(times)
    }

    /// Runs the caller's graph (its own outputs, no update) on `inputs`
    /// with the current parameters.
    pub fn evaluate<S: Into<String>>(
        &mut self,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<NamedTensors, TrainError> {
        if self.eval.is_none() {
            let names = self.model.weight_names();
            let current = Weights::from_tensors(self.model.read_weights(&names)?.0);
            let options = CompileOptions { settings: self.device.settings().clone(), ..CompileOptions::default() };
            let eval = Loader::new(&self.device)
                .with_options(options)
                .sharing_weights_with(&self.model)
                .load(&self.forward, &current)?;
            self.eval = Some(eval);
        }
        let eval = self.eval.as_ref().ok_or(TrainError::NoLoss)?;
        Ok(eval.run(inputs)?)
    }

    /// What the doctor sees in the graph alone (unreachable or frozen
    /// parameters, unused inputs), found when the step was built.
    pub fn warnings(&self) -> &[Finding] {
        &self.warnings
    }

    /// The caller's forward graph.
    pub fn forward_graph(&self) -> &Graph {
        &self.forward
    }

    /// Steps taken so far.
    pub fn steps_taken(&self) -> u64 {
        self.step
    }

    /// The trained parameters' names, in the order given to the optimizer.
    pub fn param_names(&self) -> &[String] {
        &self.params
    }

    /// The gradients and which parameters reach the loss (a parameter that
    /// does not gets a zero gradient and never changes).
    pub fn gradients(&self) -> &Gradients {
        &self.gradients
    }

    /// The optimizer update (scalars per step, state names, schedule).
    pub fn update(&self) -> &Update {
        &self.update
    }

    /// The compiled training step.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Bytes of activation memory (forward and backward intermediates,
    /// after buffer reuse) one step needs for these symbol sizes
    /// (`{"batch": 128}`); parameters and optimizer state come on top.
    pub fn peak_activation_bytes(&self, bindings: &crate::graph::Bindings) -> u64 {
        self.model.peak_activation_bytes(bindings)
    }

    /// The learning rate of the next step.
    pub fn next_lr(&self) -> Result<f64, TrainError> {
        Ok(self.update.lr(self.step + 1)?)
    }

    /// The current parameters, read back from the device, by checkpoint name.
    pub fn parameters(&self) -> Result<NamedTensors, TrainError> {
        Ok(self.model.read_weights(&self.params)?)
    }

    /// Writes the current parameters as a safetensors file under their
    /// checkpoint names, atomically: loadable by `wgraph run` and by HF
    /// `from_pretrained` when the names are the checkpoint's.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), TrainError> {
        let params = self.parameters()?;
        crate::weights::save_safetensors(path, &params, None)?;
        Ok(())
    }

    /// Writes parameters, optimizer state and the step count, atomically,
    /// for [`Trainer::resume`].
    pub fn save_state(&self, path: impl AsRef<Path>) -> Result<(), TrainError> {
        let mut names = self.params.clone();
        names.extend(self.update.state_names());
        let tensors = self.model.read_weights(&names)?;
        state_file::write(path.as_ref(), &tensors, self.step)
    }

    /// Loads what [`Trainer::save_state`] wrote: parameters, optimizer
    /// state and the step count, so training continues exactly where it
    /// stopped (bitwise, with the same data).
    pub fn resume(&mut self, path: impl AsRef<Path>) -> Result<(), TrainError> {
        let (tensors, step) = state_file::read(path.as_ref())?;
        let mut expected = self.params.clone();
        expected.extend(self.update.state_names());
        let missing: Vec<&String> = expected.iter().filter(|n| !tensors.iter().any(|(m, _)| m == *n)).collect();
        if !missing.is_empty() {
            let listed: Vec<&str> = missing.iter().take(5).map(|s| s.as_str()).collect();
            return Err(TrainError::State {
                path: path.as_ref().display().to_string(),
                detail: format!("{} tensors this trainer needs are missing: {}", missing.len(), listed.join(", ")),
            });
        }
        self.model.write_weights(&tensors)?;
        self.step = step;
        Ok(())
    }
}

/// The parameters as values of the step graph: the given weights, or every
/// float weight of the graph.
fn select_params(graph: &Graph, params: &[Value]) -> Result<Vec<Value>, TrainError> {
    let ir = graph.ir_unchecked().clone();
    let ids: Vec<NodeId> = if params.is_empty() {
        ir.weights().into_iter().filter(|&w| ir.node(w).ty.dtype.is_float()).collect()
    } else {
        let mut ids = Vec::with_capacity(params.len());
        for p in params {
            let id = p.clone().checked()?.node_id().ok_or(TrainError::NoLoss)?;
            let node = ir.node(id);
            if !matches!(node.op, Op::Weight { .. }) {
                let name = node.name.clone().unwrap_or_else(|| format!("%{}", id.index()));
                return Err(TrainError::NotAWeight { name, op: node.op.name() });
            }
            ids.push(id);
        }
        ids
    };
    if ids.is_empty() {
        return Err(TrainError::NoParameters {
            graph: ir.name.clone(),
            hint: Some("declare trainable tensors with `Graph::weight` (or `Scope::weight`)"),
        });
    }
    Ok(ids.into_iter().filter_map(|id| graph.value(id)).collect())
}
