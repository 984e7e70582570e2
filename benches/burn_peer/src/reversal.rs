//! Workload `train-reversal`: a training step of wgraph's reversal model
//! (vocabulary 13, length 11, batch 128, d_model 64, 2 pre-LN layers,
//! 4 heads, feed-forward 128 with GELU erf, learned token and positional
//! embeddings, final LayerNorm, output Linear; cross-entropy over every
//! position against the reversed input), AdamW lr 1e-3 weight decay 0.01,
//! global-norm clipping 1.0, a constant learning rate on both sides.
//!
//! wgraph's side is `wgraph_models::reversal`'s own model, initial weights
//! and batches; burn gets the same weights and batches.

use crate::burn_optim::{BurnOptimizer, Clipping};
use crate::failure::catch;
use crate::report::{print_table, Row};
use crate::timing::ms_since;
use crate::train_timing::{compare_losses, time_steps, TrainRun};
use crate::weights::HostWeights;
use burn::module::{Module, Param};
use burn::nn::attention::{MhaInput, MultiHeadAttention};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, LayerNorm, Linear};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use std::time::Instant;
use wgraph::optim::{AdamConfig, OptimizerConfig, Recipe};
use wgraph::train::Trainer;
use wgraph_models::reversal::{self, ReversalConfig, TaskData};

const SEQ: usize = 11;
const VOCAB: usize = 13;
const BATCH: usize = 128;
const SEED: u64 = 0;
/// Untimed steps first (as examples/train_bench.rs).
const WARMUP: usize = 3;
const LR: f64 = 1e-3;
const WEIGHT_DECAY: f64 = 0.01;
const CLIP_NORM: f64 = 1.0;
/// `nn.LayerNorm`'s default, which the reversal model uses.
const LN_EPS: f64 = 1e-5;

pub struct Ours {
    cfg: ReversalConfig,
    weights: HostWeights,
    data: TaskData,
    steps: usize,
    run: Result<TrainRun, String>,
}

/// The model config and `steps` batches of the seeded task.
fn task(steps: usize) -> (ReversalConfig, TaskData) {
    let cfg = ReversalConfig::new(SEQ, VOCAB);
    let data = TaskData::new(SEQ, VOCAB, SEED, WARMUP + steps.max(1), BATCH, 0);
    (cfg, data)
}

pub fn wgraph_side(device: &wgraph::Device, steps: usize) -> Ours {
    let (cfg, data) = task(steps);
    let start = Instant::now();
    let model = reversal::build(&cfg);
    let initial = reversal::initial_weights(&model.graph, &cfg, SEED);
    let weights = HostWeights::from_wgraph(&initial);
    // reversal::recipe adds warmup and cosine decay; the comparison keeps
    // the learning rate constant, as burn's side does.
    let adamw = AdamConfig { lr: LR, weight_decay: WEIGHT_DECAY, ..AdamConfig::default() };
    let recipe = Recipe::new(OptimizerConfig::AdamW(adamw)).with_clip_norm(CLIP_NORM);
    let run = Trainer::new(device, &model.loss, &model.params, &weights.to_wgraph(), recipe)
        .map_err(|e| format!("trainer: {e}"))
        .and_then(|mut trainer| {
            let setup_ms = ms_since(start);
            let run =
                time_steps(WARMUP, steps, |i| trainer.step(data.train[i].inputs()).map_err(|e| format!("step: {e}")))?;
            Ok(run.after_setup(setup_ms))
        });
    Ours { cfg, weights, data, steps, run }
}

pub fn burn_side_and_print(ours: Ours, device: &Device, adapter: &str, clipping: Clipping) {
    let theirs = catch("burn", || burn_train(&device.clone().autodiff(), &ours, clipping));
    let clip = match clipping {
        Clipping::BurnPerParameter(_) => "burn: per-parameter clipping",
        _ => "global-norm clipping",
    };
    let row = Row {
        case: format!("batch {BATCH} x len {SEQ}, d_model {}, {clip}", ours.cfg.d_model),
        agreement: compare_losses(&ours.run, &theirs),
        wgraph: ours.run.map(|r| r.timing),
        burn: theirs.map(|r| r.timing),
    };
    print_table("Reversal transformer, training step", adapter, &[row]);
}

fn burn_train(device: &Device, ours: &Ours, clipping: Clipping) -> Result<TrainRun, String> {
    // Host-side data ready beforehand, as wgraph's batches are; the upload
    // is part of the step on both sides.
    let batches: Vec<(TensorData, TensorData)> = ours
        .data
        .train
        .iter()
        .map(|b| {
            let tokens = TensorData::new(b.tokens.to_i64_vec(), [BATCH, SEQ]);
            let targets = TensorData::new(b.targets.to_i64_vec(), [BATCH * SEQ]);
            (tokens, targets)
        })
        .collect();
    let start = Instant::now();
    let mut model = Some(BurnReversal::new(&ours.weights, &ours.cfg, device));
    let mut optim = BurnOptimizer::adamw(LR, WEIGHT_DECAY as f32, clipping);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let setup_ms = ms_since(start);
    let run = time_steps(WARMUP, ours.steps, |i| {
        let m = model.take().ok_or("the model was lost in a failed step")?;
        let (tokens, targets) = &batches[i];
        let tokens = Tensor::<2, Int>::from_data(tokens.clone(), device);
        let targets = Tensor::<1, Int>::from_data(targets.clone(), device);
        let logits = m.forward(tokens).reshape([BATCH * SEQ, VOCAB]);
        let loss = loss_fn.forward(logits, targets);
        let (m, value) = optim.step(m, loss, device)?;
        model = Some(m);
        Ok(value)
    })?;
    Ok(run.after_setup(setup_ms))
}

/// The reversal model with burn's modules, parameter for parameter the
/// graph of `wgraph_models::reversal::build`.
#[derive(Module, Debug)]
struct BurnReversal {
    tok_emb: Embedding,
    pos_emb: Param<Tensor<2>>,
    layers: Vec<EncoderLayer>,
    ln_f: LayerNorm,
    head: Linear,
}

/// Pre-LN: `x + attn(ln1(x))`, then `x + ff2(gelu(ff1(ln2(x))))`.
#[derive(Module, Debug)]
struct EncoderLayer {
    ln1: LayerNorm,
    attn: MultiHeadAttention,
    ln2: LayerNorm,
    ff1: Linear,
    ff2: Linear,
}

impl BurnReversal {
    fn new(w: &HostWeights, cfg: &ReversalConfig, device: &Device) -> BurnReversal {
        let layers = (0..cfg.layers)
            .map(|i| {
                let p = |name: &str| format!("layers.{i}.{name}");
                let (q, k, v, o) = (p("attn.q"), p("attn.k"), p("attn.v"), p("attn.o"));
                EncoderLayer {
                    ln1: w.layer_norm(&p("ln1"), LN_EPS, device),
                    attn: w.attention([&q, &k, &v, &o], cfg.heads, device),
                    ln2: w.layer_norm(&p("ln2"), LN_EPS, device),
                    ff1: w.linear(&p("ff1"), device),
                    ff2: w.linear(&p("ff2"), device),
                }
            })
            .collect();
        BurnReversal {
            tok_emb: w.embedding("tok_emb", device),
            pos_emb: w.param("pos_emb.weight", device),
            layers,
            ln_f: w.layer_norm("ln_f", LN_EPS, device),
            head: w.linear("head", device),
        }
    }

    /// Logits `[batch, seq, vocab]`.
    fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let mut x = self.tok_emb.forward(tokens) + self.pos_emb.val().unsqueeze::<3>();
        for layer in &self.layers {
            let h = layer.ln1.forward(x.clone());
            x = x + layer.attn.forward(MhaInput::self_attn(h)).context;
            let h = layer.ln2.forward(x.clone());
            x = x + layer.ff2.forward(gelu(layer.ff1.forward(h)));
        }
        self.head.forward(self.ln_f.forward(x))
    }
}
