//! Workload `train-bert-layer`: a training step of the BERT-base layer at
//! batch 8 x 128 tokens: MSE loss against a fixed target, AdamW with
//! PyTorch's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8, weight decay
//! 0.01), no clipping. A step is forward, backward, update and the loss
//! read back.

use crate::bert_layer::{self, BurnBertLayer, HIDDEN, SEQ};
use crate::burn_optim::{BurnOptimizer, Clipping};
use crate::failure::catch;
use crate::report::{print_table, Row};
use crate::timing::ms_since;
use crate::train_timing::{compare_losses, time_steps, TrainRun};
use crate::weights::HostWeights;
use burn::nn::loss::{MseLoss, Reduction};
use burn::tensor::{Device, Tensor, TensorData};
use std::time::Instant;
use wgraph::optim::{AdamConfig, OptimizerConfig, Recipe};
use wgraph::train::Trainer;
use wgraph::{DType, Graph};

const BATCH: usize = 8;
/// Untimed steps before the timed ones (the first includes compilation
/// and burn's autotuning).
const WARMUP: usize = 2;
const WEIGHT_SEED: u64 = 0x5eed;
const INPUT_SEED: u64 = 0xb2;
const TARGET_SEED: u64 = 0xb3;

pub struct Ours {
    weights: HostWeights,
    steps: usize,
    run: Result<TrainRun, String>,
}

pub fn wgraph_side(device: &wgraph::Device, steps: usize) -> Ours {
    let weights = bert_layer::weights(WEIGHT_SEED);
    let run = wgraph_train(device, &weights, steps);
    Ours { weights, steps, run }
}

pub fn burn_side_and_print(ours: Ours, device: &Device, adapter: &str) {
    let theirs = catch("burn", || burn_train(&device.clone().autodiff(), &ours.weights, ours.steps));
    let row = Row {
        case: format!("batch {BATCH} x seq {SEQ}, MSE, AdamW"),
        agreement: compare_losses(&ours.run, &theirs),
        wgraph: ours.run.map(|r| r.timing),
        burn: theirs.map(|r| r.timing),
    };
    print_table("BERT-base encoder layer, training step (f32)", adapter, &[row]);
}

fn shape() -> [usize; 3] {
    [BATCH, SEQ, HIDDEN]
}

fn wgraph_train(device: &wgraph::Device, weights: &HostWeights, steps: usize) -> Result<TrainRun, String> {
    let start = Instant::now();
    let g = Graph::new("bert_layer");
    let x = g.input("hidden_states", DType::F32, shape());
    let target = g.input("target", DType::F32, shape());
    let loss = wgraph::autodiff::mse_loss(&bert_layer::wgraph_layer(&x), &target);
    let recipe = Recipe::new(OptimizerConfig::AdamW(AdamConfig::adamw_default()));
    let mut trainer =
        Trainer::new(device, &loss, &[], &weights.to_wgraph(), recipe).map_err(|e| format!("trainer: {e}"))?;
    let tensor = |seed| wgraph::Tensor::new(shape(), bert_layer::activations(BATCH, seed)).map_err(|e| e.to_string());
    let batch = vec![("hidden_states".to_string(), tensor(INPUT_SEED)?), ("target".to_string(), tensor(TARGET_SEED)?)];
    let setup_ms = ms_since(start);
    let run = time_steps(WARMUP, steps, |_| trainer.step(batch.clone()).map_err(|e| format!("step: {e}")))?;
    Ok(run.after_setup(setup_ms))
}

fn burn_train(device: &Device, weights: &HostWeights, steps: usize) -> Result<TrainRun, String> {
    let start = Instant::now();
    let mut model = Some(BurnBertLayer::new(weights, device));
    let mut optim = BurnOptimizer::adamw(1e-3, 0.01, Clipping::None);
    let input = TensorData::new(bert_layer::activations(BATCH, INPUT_SEED), shape());
    let target = TensorData::new(bert_layer::activations(BATCH, TARGET_SEED), shape());
    let setup_ms = ms_since(start);
    let run = time_steps(WARMUP, steps, |_| {
        let layer = model.take().ok_or("the model was lost in a failed step")?;
        let x = Tensor::<3>::from_data(input.clone(), device);
        let t = Tensor::<3>::from_data(target.clone(), device);
        let loss = MseLoss::new().forward(layer.forward(x), t, Reduction::Mean);
        let (layer, value) = optim.step(layer, loss, device)?;
        model = Some(layer);
        Ok(value)
    })?;
    Ok(run.after_setup(setup_ms))
}
