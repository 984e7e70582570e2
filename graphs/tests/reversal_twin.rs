//! The reversal model trained by wgraph on the GPU against its PyTorch twin
//! (tools/reversal_torch.py): the same initial weights and batches, 20
//! steps of AdamW with warmup, cosine decay and clipping, every loss within
//! 1e-3 relative of PyTorch's (graphs/tests/fixtures/reversal/torch_losses.safetensors).
//!
//! The twin trained on what `examples/reversal.rs --export` wrote; the
//! fixture keeps that export's config.json, whose checksums cover the
//! initial weights and the batches. wgraph regenerates both from the seed
//! here, so a change to the initialisation, the data stream or the recipe
//! fails first, with the commands that regenerate the reference.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::fixture;

mod common;

use common::device;
use wgraph::Weights;
use wgraph_models::reversal::export::{self, Export};
use wgraph_models::reversal::{prepare, ReversalConfig, TrainOptions};

const STEPS: usize = 20;
const RTOL: f64 = 1e-3;

const REGENERATE: &str = "\
rerun the twin and commit its output (graphs/tests/fixtures/reversal/README.md):
    cargo run --release --example reversal -- --seed 0 --seq-len 8 --vocab 10 --d-model 32 --layers 2 \\
        --heads 2 --batch 16 --steps 20 --warmup 5 --lr 3e-2 --export /tmp/twin
    python3 tools/reversal_torch.py /tmp/twin --save-losses graphs/tests/fixtures/reversal/torch_losses.safetensors
    cp /tmp/twin/config.json graphs/tests/fixtures/reversal/config.json";

/// The README's command line: `ReversalConfig::new` with the example's
/// `--d-model 32 --layers 2 --heads 2` (feed-forward 2 x d_model).
fn setup() -> (ReversalConfig, TrainOptions) {
    let mut cfg = ReversalConfig::new(8, 10);
    cfg.d_model = 32;
    cfg.layers = 2;
    cfg.heads = 2;
    cfg.ff = 64;
    let options = TrainOptions { seed: 0, steps: STEPS, batch: 16, lr: 3e-2, warmup: 5, ..TrainOptions::default() };
    (cfg, options)
}

fn committed_config() -> serde_json::Value {
    let text = std::fs::read_to_string(fixture("reversal/config.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// wgraph still generates the weights, batches and settings the twin
/// trained on (compared through config.json and its checksums).
#[test]
fn the_export_is_what_the_twin_trained_on() {
    let (cfg, options) = setup();
    let export = Export::new(&cfg, &options, STEPS).unwrap();
    let committed = committed_config();
    assert!(
        export.config == committed,
        "wgraph's export no longer matches what the PyTorch twin trained on;\nnow:\n{}\ncommitted:\n{}\n{REGENERATE}",
        serde_json::to_string_pretty(&export.config).unwrap(),
        serde_json::to_string_pretty(&committed).unwrap(),
    );
    // The committed losses come from that export.
    let bytes = std::fs::read(fixture("reversal/torch_losses.safetensors")).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap_or_default();
    for what in ["initial_weights", "batches"] {
        assert_eq!(
            meta.get(what).map(String::as_str),
            committed["checksums"][what].as_str(),
            "torch_losses.safetensors was made from another export's {what}; {REGENERATE}"
        );
    }
}

/// The files `--export` writes, read back: names, shapes, and config.json
/// equal to what was computed in memory.
#[test]
fn export_writes_weights_batches_and_config() {
    let (cfg, options) = setup();
    let export = Export::new(&cfg, &options, 3).unwrap();
    let dir = tempfile::tempdir().unwrap();
    export.write(dir.path()).unwrap();
    let weights = Weights::open([dir.path().join(export::WEIGHTS_FILE)]).unwrap();
    let mut names: Vec<String> = weights.names().map(String::from).collect();
    names.sort();
    let expected: Vec<String> = export.weights.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, expected);
    for name in ["tok_emb.weight", "pos_emb.weight", "layers.1.attn.q.weight", "layers.0.ff2.bias", "head.weight"] {
        assert!(names.iter().any(|n| n == name), "no `{name}` in {names:?}");
    }
    let batches = Weights::open([dir.path().join(export::BATCHES_FILE)]).unwrap();
    let tokens = batches.read("tokens").unwrap();
    let targets = batches.read("targets").unwrap();
    assert_eq!(tokens.shape(), [3, 16, 8]);
    assert_eq!(tokens.dtype(), wgraph::DType::I64);
    let (t, r) = (tokens.to_i64_vec(), targets.to_i64_vec());
    assert!(t.chunks(8).zip(r.chunks(8)).all(|(a, b)| a.iter().rev().eq(b.iter())), "targets are the tokens reversed");
    let text = std::fs::read_to_string(dir.path().join(export::CONFIG_FILE)).unwrap();
    assert_eq!(serde_json::from_str::<serde_json::Value>(&text).unwrap(), export.config);
    assert!(Export::new(&ReversalConfig { bug: Some(wgraph_models::reversal::Bug::NoPositions), ..cfg }, &options, 3)
        .is_err());
}

/// 20 GPU training steps: each loss within 1e-3 relative of PyTorch's.
#[test]
fn twenty_gpu_steps_match_the_pytorch_twin() {
    let (cfg, options) = setup();
    let (mut trainer, data) = prepare(device(), &cfg, &options).unwrap();
    let ours: Vec<f64> = data.train.iter().map(|b| trainer.step(b.inputs()).unwrap() as f64).collect();
    let torch =
        Weights::open([fixture("reversal/torch_losses.safetensors")]).unwrap().read("loss").unwrap().to_f64_vec();
    assert_eq!(torch.len(), STEPS, "torch_losses.safetensors holds {} losses", torch.len());
    let rel: Vec<f64> = ours.iter().zip(&torch).map(|(a, b)| (a - b).abs() / b.abs()).collect();
    let worst = rel.iter().cloned().fold(0.0, f64::max);
    let table: String = ours
        .iter()
        .zip(&torch)
        .zip(&rel)
        .enumerate()
        .map(|(i, ((a, b), r))| format!("step {:>2}: wgraph {a:.6} PyTorch {b:.6} rel {r:.1e}\n", i + 1))
        .collect();
    assert!(
        worst <= RTOL,
        "wgraph's losses differ from the PyTorch twin's by up to {worst:.2e} (tolerance {RTOL:e}):\n{table}\
         (if the model, its initialisation or the recipe changed on purpose: {REGENERATE})"
    );
    // Training did something: the last loss is clearly below the first.
    assert!(ours[STEPS - 1] < 0.5 * ours[0], "the loss barely moved:\n{table}");
}
