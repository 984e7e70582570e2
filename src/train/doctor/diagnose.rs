//! The doctor run: trains a few steps while watching gradients, updates,
//! activations and the loss, then says why the model may not learn.

use super::finding::{Finding, Scale};
use super::probe::{dependency_findings, DependencyProbe};
use super::static_checks::describe;
use super::stats::{median, norm, ParamStats, ZeroRows};
use crate::compile::CompileOptions;
use crate::debug::find_non_finite;
use crate::graph::{Graph, NodeId, Op, Tensor, UnaryOp};
use crate::runtime::{Loader, Model};
use crate::train::{TrainError, Trainer};
use crate::weights::Weights;
use std::collections::HashMap;

/// Updates whose update-to-weight ratio is measured (the first with a
/// non-zero learning rate).
const RATIO_STEPS: usize = 10;

/// What the doctor run looks at, beyond the defaults.
#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    /// Which outputs depend on which inputs (sequence models).
    pub probe: Option<DependencyProbe>,
}

/// Everything the doctor found, and the per-parameter figures.
#[derive(Debug, Clone)]
pub struct Diagnosis {
    /// One entry per problem (empty: nothing wrong found).
    pub findings: Vec<Finding>,
    /// Gradient norm, update ratio and weight norm per parameter.
    pub table: Vec<ParamStats>,
    /// The loss of every step run.
    pub losses: Vec<f32>,
}

impl Diagnosis {
    /// One line per finding, each starting `doctor: `, or one line saying
    /// nothing is wrong.
    pub fn lines(&self) -> Vec<String> {
        if self.findings.is_empty() {
            return vec![format!(
                "doctor: no fault found in {} steps: every parameter reaches the loss, gets a non-zero gradient \
                 and moves at a healthy rate; the loss decreases",
                self.losses.len()
            )];
        }
        self.findings.iter().map(|f| f.to_string()).collect()
    }

    /// The per-parameter table (`--doctor=table`).
    pub fn table_text(&self) -> String {
        let width = self.table.iter().map(|r| r.name.len()).max().unwrap_or(9).max(9);
        let mut s =
            format!("{:<width$}  {:>12}  {:>12}  {:>12}\n", "parameter", "grad norm", "update ratio", "weight norm");
        for r in &self.table {
            s.push_str(&format!(
                "{:<width$}  {:>12.3e}  {:>12.3e}  {:>12.3e}\n",
                r.name, r.grad_norm, r.update_ratio, r.weight_norm
            ));
        }
        s
    }
}

/// How an activation's unit gets stuck: dead at zero (ReLU, GELU, SiLU)
/// or saturated at its bounds (tanh, sigmoid), where the gradient vanishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stuck {
    Dead,
    Saturated,
}

/// The way `op`'s units can get stuck, for the activations the doctor watches.
fn stuck_kind(op: &Op) -> Option<Stuck> {
    if matches!(op, Op::Unary(UnaryOp::Relu | UnaryOp::Gelu(_) | UnaryOp::Silu)) {
        Some(Stuck::Dead)
    } else if matches!(op, Op::Unary(UnaryOp::Tanh | UnaryOp::Sigmoid)) {
        Some(Stuck::Saturated)
    } else {
        None
    }
}

/// A watched activation: its name, how it gets stuck, whether it is a sigmoid.
type Watched = (String, Stuck, bool);

/// Whether one value of a unit is stuck: zero, or within 1% of a bound
/// (tanh: +-1, sigmoid: 0 or 1).
fn is_stuck(kind: Stuck, op_is_sigmoid: bool, x: f32) -> bool {
    match (kind, op_is_sigmoid) {
        (Stuck::Dead, _) => x.abs() <= 1e-6,
        (Stuck::Saturated, false) => x.abs() >= 0.99,
        (Stuck::Saturated, true) => !(0.01..=0.99).contains(&x),
    }
}

/// Parameters read as embedding tables (rows picked by index): rows of
/// tokens absent from a batch rightly get no gradient.
fn embedding_tables(graph: &Graph) -> Vec<NodeId> {
    let ir = graph.ir_unchecked();
    ir.graph
        .node_indices()
        .filter(|&n| matches!(ir.node(n).op, Op::Gather { .. }))
        .filter_map(|n| ir.operands(n).first().copied())
        .collect()
}

impl Trainer {
    /// Trains one step per batch (the steps count as training) while
    /// watching the model, and reports why it may not learn: the build-time
    /// findings, zero gradients, parameters that do not move, the first
    /// non-finite value, update-to-weight ratios far from ~1e-3, a flat
    /// loss, dead activations, and, with a probe, outputs blind to inputs.
    pub fn diagnose<S: Into<String>>(
        &mut self,
        batches: impl IntoIterator<Item = Vec<(S, Tensor)>>,
        options: &DoctorOptions,
    ) -> Result<Diagnosis, TrainError> {
        let mut findings = self.warnings().to_vec();
        let step_graph = self.gradients().graph().clone();
        let (watch, activations) = self.watch_model(&step_graph)?;
        let tables = embedding_tables(&step_graph);
        let params = self.param_names().to_vec();
        let param_ids: Vec<NodeId> = self.gradients().params().iter().filter_map(|p| p.node_id()).collect();
        let silent: Vec<bool> = (0..params.len()).map(|i| !self.gradients().reaches(i)).collect();
        let mut zero_rows: Vec<ZeroRows> = Vec::new();
        let mut grad_norms = vec![Vec::new(); params.len()];
        let mut ratios = vec![Vec::new(); params.len()];
        let mut weight_norms = vec![0.0; params.len()];
        let mut dead: HashMap<String, Vec<bool>> = HashMap::new();
        let mut losses = Vec::new();
        let mut non_finite_reported = false;
        for (i, batch) in batches.into_iter().enumerate() {
            let inputs: Vec<(String, Tensor)> = batch.into_iter().map(|(n, t)| (n.into(), t)).collect();
            let step = self.steps_taken() + 1;
            if i == 0 {
                if let Some(probe) = &options.probe {
                    findings.extend(dependency_findings(self, probe, &inputs)?);
                }
            }
            // The watch graph is the step graph: it declares the optimizer's scalars too.
            let mut watched = inputs.clone();
            watched.extend(self.update().step_inputs(step)?);
            let out = watch.run(watched.clone())?;
            // Gradients and activations of this step, before the update.
            for (k, name) in params.iter().enumerate() {
                let Some(g) = out.get(&format!("grad/{name}")) else { continue };
                grad_norms[k].push(norm(&g.to_f64_vec()));
                if i == 0 {
                    zero_rows.push(ZeroRows::new(g));
                } else if let Some(z) = zero_rows.get_mut(k) {
                    z.update(g);
                }
            }
            for (name, kind, sigmoid) in &activations {
                if let Some(a) = out.get(&format!("act/{name}")) {
                    let units = a.shape().last().copied().unwrap_or(1).max(1);
                    let v = a.to_f32_vec();
                    let entry = dead.entry(name.clone()).or_insert_with(|| vec![true; units]);
                    for (j, x) in v.iter().enumerate() {
                        if !is_stuck(*kind, *sigmoid, *x) {
                            entry[j % units] = false;
                        }
                    }
                }
            }
            let finite = out.iter().all(|(_, t)| !t.dtype().is_float() || t.to_f64_vec().iter().all(|v| v.is_finite()));
            if !finite && !non_finite_reported {
                non_finite_reported = true;
                findings.push(self.first_non_finite(&step_graph, &watched, step)?);
            }
            let lr = self.next_lr()?;
            let before = self.parameters()?;
            losses.push(self.step(inputs)?);
            let after = self.parameters()?;
            let mut unchanged = Vec::new();
            for (k, name) in params.iter().enumerate() {
                let (Some(b), Some(a)) = (before.get(name), after.get(name)) else { continue };
                let (b, a) = (b.to_f64_vec(), a.to_f64_vec());
                weight_norms[k] = norm(&a);
                let delta: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
                // A zero learning rate (the first warmup step) moves nothing, rightly.
                if lr > 0.0 {
                    let wn = norm(&b);
                    // The first updates show the learning rate's scale before the
                    // weights have grown or shrunk in response to it.
                    if wn > 1e-8 && ratios[k].len() < RATIO_STEPS {
                        ratios[k].push(norm(&delta) / wn);
                    }
                    if a == b && !silent[k] {
                        unchanged.push(name.clone());
                    }
                }
            }
            if !unchanged.is_empty() && !findings.iter().any(|f| matches!(f, Finding::Unchanged { .. })) {
                findings.push(Finding::Unchanged { params: unchanged, step });
            }
        }
        let reported = |name: &str, findings: &[Finding]| {
            findings.iter().any(|f| match f {
                Finding::Unreachable { param } | Finding::BlockedGradient { param, .. } => param == name,
                _ => false,
            })
        };
        for (k, name) in params.iter().enumerate() {
            if reported(name, &findings) {
                continue;
            }
            let Some(z) = zero_rows.get(k) else { continue };
            let is_table = param_ids.get(k).is_some_and(|id| tables.contains(id));
            if z.all_zero() {
                findings.push(Finding::ZeroGradient { param: name.clone(), rows: None });
            } else if let (false, Some((zero, total))) = (is_table, z.zero_rows()) {
                findings.push(Finding::ZeroGradient { param: name.clone(), rows: Some((zero, total)) });
            }
        }
        findings.extend(ratio_findings(&params, &ratios, &silent));
        if losses.len() >= 10 {
            let k = (losses.len() / 5).max(2);
            let mean = |s: &[f32]| s.iter().map(|&l| l as f64).sum::<f64>() / s.len() as f64;
            let (first, last) = (mean(&losses[..k]), mean(&losses[losses.len() - k..]));
            // NaN losses count as not decreasing.
            let decreased = last < first * 0.99;
            if !decreased {
                findings.push(Finding::LossFlat { steps: losses.len(), first, last });
            }
        }
        for (name, kind, _) in &activations {
            if let Some(units) = dead.get(name) {
                let fraction = units.iter().filter(|d| **d).count() as f64 / units.len().max(1) as f64;
                if fraction >= 0.5 {
                    findings.push(match kind {
                        Stuck::Dead => Finding::DeadActivation { node: name.clone(), fraction },
                        Stuck::Saturated => Finding::SaturatedActivation { node: name.clone(), fraction },
                    });
                }
            }
        }
        let table = params
            .iter()
            .enumerate()
            .map(|(k, name)| ParamStats {
                name: name.clone(),
                grad_norm: median(&grad_norms[k]),
                update_ratio: median(&ratios[k]),
                weight_norm: weight_norms[k],
            })
            .collect();
        Ok(Diagnosis { findings, table, losses })
    }

    /// The forward and backward graph without the update: outputs the loss,
    /// every parameter's gradient and every activation, reading the
    /// trainer's current weights.
    fn watch_model(&self, step_graph: &Graph) -> Result<(Model, Vec<Watched>), TrainError> {
        let mut ir = step_graph.ir_unchecked().clone();
        let forward =
            super::static_checks::ancestors(&ir, self.gradients().loss().node_id().ok_or(TrainError::NoLoss)?);
        let mut outputs = vec![("loss".to_string(), self.gradients().loss().node_id().ok_or(TrainError::NoLoss)?)];
        for (name, g) in self.param_names().iter().zip(self.gradients().values()) {
            if let Some(id) = g.node_id() {
                outputs.push((format!("grad/{name}"), id));
            }
        }
        let mut activations = Vec::new();
        for id in ir.graph.node_indices() {
            let node = ir.node(id);
            let Some(kind) = stuck_kind(&node.op) else { continue };
            if forward.contains(&id) {
                let name = node.name.clone().unwrap_or_else(|| format!("%{}:{}", id.index(), node.op.name()));
                outputs.push((format!("act/{name}"), id));
                activations.push((name, kind, matches!(node.op, Op::Unary(UnaryOp::Sigmoid))));
            }
        }
        ir.outputs = outputs;
        let graph = Graph::from_ir(ir);
        let options =
            CompileOptions { settings: self.model().device().settings().clone(), ..CompileOptions::default() };
        let current = Weights::from_tensors(self.model().read_weights(&self.model().weight_names())?.0);
        let model = Loader::new(self.model().device())
            .with_options(options)
            .sharing_weights_with(self.model())
            .load(&graph, &current)?;
        Ok((model, activations))
    }

    /// Names the first node whose value is not finite: in the forward pass
    /// (an activation) or, when the forward pass is finite, the backward one.
    fn first_non_finite(
        &self,
        step_graph: &Graph,
        inputs: &[(String, Tensor)],
        step: u64,
    ) -> Result<Finding, TrainError> {
        let device = self.model().device();
        let current = Weights::from_tensors(self.model().read_weights(&self.model().weight_names())?.0);
        let loss = self.gradients().loss().node_id().ok_or(TrainError::NoLoss)?;
        let mut forward_ir = step_graph.ir_unchecked().clone();
        forward_ir.outputs = vec![("loss".into(), loss)];
        let mut backward_ir = step_graph.ir_unchecked().clone();
        backward_ir.outputs = self
            .param_names()
            .iter()
            .zip(self.gradients().values())
            .filter_map(|(n, g)| g.node_id().map(|id| (format!("grad/{n}"), id)))
            .collect();
        for (kind, ir) in [("activation", forward_ir), ("gradient", backward_ir)] {
            let graph = Graph::from_ir(ir);
            let found = find_non_finite(device, &graph, &current, inputs.to_vec())
                .map_err(|e| TrainError::Doctor { detail: e.to_string() })?;
            if let Some(nf) = found {
                let node = match &nf.name {
                    Some(name) => format!("`{name}` ({}, built at {})", nf.op, nf.location),
                    None => format!("`{}` (built at {})", nf.op, nf.location),
                };
                return Ok(Finding::NonFinite { step, node, kind });
            }
        }
        let ir = step_graph.ir_unchecked();
        Ok(Finding::NonFinite { step, node: describe(&ir, loss), kind: "activation" })
    }
}

/// A learning rate far off shows in every parameter's update-to-weight
/// ratio: when the median over all parameters is far from ~1e-3, the
/// parameters on that side are listed. Single outliers (a bias whose
/// gradient is zero in exact arithmetic) are not a learning-rate problem.
fn ratio_findings(params: &[String], ratios: &[Vec<f64>], silent: &[bool]) -> Vec<Finding> {
    let per_param: Vec<(String, f64)> = params
        .iter()
        .enumerate()
        .filter(|(k, _)| !silent[*k] && !ratios[*k].is_empty())
        .map(|(k, name)| (name.clone(), median(&ratios[k])))
        .collect();
    if per_param.is_empty() {
        return Vec::new();
    }
    let overall = median(&per_param.iter().map(|(_, r)| *r).collect::<Vec<_>>());
    let (scale, side): (Scale, Box<dyn Fn(f64) -> bool>) = if overall < 1e-5 {
        (Scale::TooSmall, Box::new(|r| r < 1e-5))
    } else if overall > 1e-1 || !overall.is_finite() {
        (Scale::TooLarge, Box::new(|r: f64| r > 1e-1 || !r.is_finite()))
    } else {
        return Vec::new();
    };
    let params = per_param.iter().filter(|(_, r)| side(*r)).map(|(n, _)| n.clone()).collect();
    vec![Finding::UpdateRatio { params, ratio: overall, scale }]
}
