//! Training the reversal model on the GPU: the loop the example and the
//! tests share.

use super::{build, initial_weights, Bug, ReversalConfig, TaskData};
use wgraph::optim::{AdamConfig, OptimizerConfig, Recipe, Schedule};
use wgraph::train::doctor::DependencyProbe;
use wgraph::train::{Diagnosis, DoctorOptions, TrainError, Trainer};
use wgraph::{Device, Tensor, Weights};

/// How to train.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainOptions {
    pub seed: u64,
    pub steps: usize,
    pub batch: usize,
    /// Peak learning rate of AdamW (a learning-rate bug overrides it).
    pub lr: f64,
    /// Linear warmup steps, then cosine decay to the last step.
    pub warmup: usize,
    pub weight_decay: f64,
    /// Global gradient-norm clipping.
    pub clip_norm: f64,
    /// Held-out sequences for the final accuracy.
    pub held_out: usize,
    /// Measure the running accuracy every this many steps.
    pub eval_every: usize,
}

impl Default for TrainOptions {
    /// What learns the task for any seed, length 6-16 and vocabulary 8-32.
    fn default() -> TrainOptions {
        TrainOptions {
            seed: 0,
            steps: 400,
            batch: 128,
            lr: 1e-3,
            warmup: 100,
            weight_decay: 0.01,
            clip_norm: 1.0,
            held_out: 1000,
            eval_every: 10,
        }
    }
}

/// What one step reports to the caller's progress display.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepReport {
    /// 1-based.
    pub step: usize,
    pub loss: f32,
    /// Exact-sequence accuracy on the latest measured training batch.
    pub accuracy: Option<f64>,
}

/// The run's curves and the held-out result.
#[derive(Debug, Clone, PartialEq)]
pub struct RunReport {
    pub losses: Vec<f32>,
    /// `(step, exact-sequence accuracy)` on training batches.
    pub accuracies: Vec<(usize, f64)>,
    /// Exact-sequence accuracy on the held-out sequences.
    pub held_out_accuracy: f64,
    /// Activation memory of one training step (after buffer reuse), bytes.
    pub peak_activation_bytes: u64,
    pub held_out_count: usize,
}

/// The recipe for `options` and `cfg`'s bug: AdamW, warmup then cosine,
/// global-norm clipping.
pub fn recipe(cfg: &ReversalConfig, options: &TrainOptions) -> Recipe {
    let lr = cfg.bug.and_then(Bug::learning_rate).unwrap_or(options.lr);
    let adamw = AdamConfig { lr, weight_decay: options.weight_decay, ..AdamConfig::default() };
    let schedule = Schedule::Cosine { warmup: options.warmup as u64, total: options.steps as u64, cycles: 0.5 };
    Recipe::new(OptimizerConfig::AdamW(adamw)).with_clip_norm(options.clip_norm).with_schedule(schedule)
}

/// The doctor run alone: a trainer for `cfg`, diagnosed over its first
/// `steps` batches.
pub fn diagnose(
    device: &Device,
    cfg: &ReversalConfig,
    options: &TrainOptions,
    steps: usize,
) -> Result<Diagnosis, TrainError> {
    let options = TrainOptions { steps, held_out: 0, ..options.clone() };
    let (mut trainer, data) = prepare(device, cfg, &options)?;
    trainer.diagnose(data.train.iter().map(|b| b.inputs()), &doctor_options())
}

/// A trainer for `cfg` with its initial weights, and the data.
pub fn prepare(
    device: &Device,
    cfg: &ReversalConfig,
    options: &TrainOptions,
) -> Result<(Trainer, TaskData), TrainError> {
    let model = build(cfg);
    let weights = Weights::from_tensors(initial_weights(&model.graph, cfg, options.seed));
    let trainer = Trainer::new(device, &model.loss, &model.params, &weights, recipe(cfg, options))?;
    let data = TaskData::new(cfg.seq_len, cfg.vocab, options.seed, options.steps, options.batch, options.held_out);
    Ok((trainer, data))
}

/// Exact-sequence accuracy: the fraction of rows of `predictions` equal to `targets`.
pub fn exact_accuracy(predictions: &Tensor, targets: &Tensor) -> f64 {
    let (p, t) = (predictions.to_i64_vec(), targets.to_i64_vec());
    let len = targets.shape().get(1).copied().unwrap_or(1).max(1);
    let rows = t.len() / len;
    if rows == 0 {
        return 0.0;
    }
    let right = p.chunks(len).zip(t.chunks(len)).filter(|(a, b)| a == b).count();
    right as f64 / rows as f64
}

/// The doctor's options for this model: the dependency probe from the
/// embedded inputs to the logits.
pub fn doctor_options() -> DoctorOptions {
    DoctorOptions { probe: Some(DependencyProbe { input: "embeddings".into(), output: "head".into() }) }
}

/// Trains for `options.steps` steps, calling `progress` after each, then
/// measures the held-out accuracy. With `doctor_steps`, the first that
/// many steps are a doctor run ([`Trainer::diagnose`]) whose diagnosis is
/// returned too.
pub fn train(
    device: &Device,
    cfg: &ReversalConfig,
    options: &TrainOptions,
    doctor_steps: Option<usize>,
    mut progress: impl FnMut(&StepReport),
) -> Result<(RunReport, Option<Diagnosis>), TrainError> {
    let (mut trainer, data) = prepare(device, cfg, options)?;
    let mut losses = Vec::with_capacity(options.steps);
    let mut accuracies = Vec::new();
    let mut latest = None;
    let mut diagnosis = None;
    let mut skip = 0;
    if let Some(k) = doctor_steps {
        let k = k.min(data.train.len());
        let d = trainer.diagnose(data.train[..k].iter().map(|b| b.inputs()), &doctor_options())?;
        for (i, &loss) in d.losses.iter().enumerate() {
            losses.push(loss);
            progress(&StepReport { step: i + 1, loss, accuracy: None });
        }
        skip = k;
        diagnosis = Some(d);
    }
    for (i, batch) in data.train.iter().enumerate().skip(skip) {
        let step = i + 1;
        if options.eval_every > 0 && (step == 1 || step % options.eval_every == 0) {
            let out = trainer.evaluate(batch.inputs())?;
            if let Some(p) = out.get("predictions") {
                let acc = exact_accuracy(p, &batch.targets);
                accuracies.push((step, acc));
                latest = Some(acc);
            }
        }
        let loss = trainer.step(batch.inputs())?;
        losses.push(loss);
        progress(&StepReport { step, loss, accuracy: latest });
    }
    let out = trainer.evaluate(data.held_out.inputs())?;
    let held_out_accuracy = out.get("predictions").map_or(0.0, |p| exact_accuracy(p, &data.held_out.targets));
    let bindings = wgraph::graph::Bindings::from([(std::sync::Arc::from("batch"), options.batch)]);
    let peak_activation_bytes = trainer.peak_activation_bytes(&bindings);
    let report =
        RunReport { losses, accuracies, held_out_accuracy, held_out_count: data.held_out.len(), peak_activation_bytes };
    Ok((report, diagnosis))
}
