//! Workload `bert-layer`: the BERT-base layer's forward pass at batch 1
//! and 8 x 128 tokens. A call uploads the activations, runs the layer and
//! reads the output back (wgraph: `Model::run`; burn: `into_data`).

use crate::bert_layer::{self, BurnBertLayer, HIDDEN, SEQ};
use crate::failure::catch;
use crate::report::{print_table, Row};
use crate::timing::{median_ms, ms_since, Timing};
use crate::weights::HostWeights;
use burn::tensor::{Device, Tensor, TensorData};
use std::time::Instant;
use wgraph::{Loader, DType, Graph};

const BATCHES: [usize; 2] = [1, 8];
const WARMUP: usize = 2;
const WEIGHT_SEED: u64 = 0x5eed;
const INPUT_SEED: u64 = 0xb1;

/// A side's timing and its last output, to compare the libraries' results.
type Measured = Result<(Timing, Vec<f32>), String>;

/// wgraph's results and the weights burn must use.
pub struct Ours {
    weights: HostWeights,
    runs: usize,
    measured: Vec<Measured>,
}

pub fn wgraph_side(device: &wgraph::Device, runs: usize) -> Ours {
    let weights = bert_layer::weights(WEIGHT_SEED);
    let measured = BATCHES.iter().map(|&batch| wgraph_forward(device, &weights, batch, runs)).collect();
    Ours { weights, runs, measured }
}

pub fn burn_side_and_print(ours: Ours, device: &Device, adapter: &str) {
    let rows: Vec<Row> = BATCHES
        .iter()
        .zip(ours.measured)
        .map(|(&batch, wgraph)| {
            let burn = catch("burn", || burn_forward(device, &ours.weights, batch, ours.runs));
            Row {
                case: format!("batch {batch} x seq {SEQ}"),
                agreement: compare_outputs(&wgraph, &burn),
                wgraph: wgraph.map(|(t, _)| t),
                burn: burn.map(|(t, _)| t),
            }
        })
        .collect();
    print_table("BERT-base encoder layer, inference (f32)", adapter, &rows);
}

fn wgraph_forward(device: &wgraph::Device, weights: &HostWeights, batch: usize, runs: usize) -> Measured {
    let start = Instant::now();
    let g = Graph::new("bert_layer");
    let x = g.input("hidden_states", DType::F32, [batch, SEQ, HIDDEN]);
    let y = bert_layer::wgraph_layer(&x);
    g.output_named([("y", &y)]).map_err(|e| format!("graph: {e}"))?;
    let model = Loader::new(device).load(&g, &weights.to_wgraph()).map_err(|e| format!("compile: {e}"))?;
    let input = wgraph::Tensor::new([batch, SEQ, HIDDEN], bert_layer::activations(batch, INPUT_SEED))
        .map_err(|e| e.to_string())?;
    let mut output = Vec::new();
    let setup_ms = ms_since(start);
    let timing = median_ms(WARMUP, runs, || {
        let out = model.run([("hidden_states", input.clone())]).map_err(|e| format!("run: {e}"))?;
        output = out.get("y").ok_or("the model has no output y")?.to_f32_vec();
        Ok::<(), String>(())
    })?;
    Ok((timing.after_setup(setup_ms), output))
}

fn burn_forward(device: &Device, weights: &HostWeights, batch: usize, runs: usize) -> Measured {
    let start = Instant::now();
    let layer = BurnBertLayer::new(weights, device);
    let input = TensorData::new(bert_layer::activations(batch, INPUT_SEED), [batch, SEQ, HIDDEN]);
    let mut output = Vec::new();
    let setup_ms = ms_since(start);
    let timing = median_ms(WARMUP, runs, || {
        let x = Tensor::<3>::from_data(input.clone(), device);
        output = layer.forward(x).into_data().try_to_vec::<f32>().map_err(|e| format!("read back: {e:?}"))?;
        Ok::<(), String>(())
    })?;
    Ok((timing.after_setup(setup_ms), output))
}

/// The largest absolute difference between the two outputs (LayerNorm
/// output, values of order 1).
fn compare_outputs(ours: &Measured, theirs: &Measured) -> String {
    match (ours, theirs) {
        (Ok((_, a)), Ok((_, b))) if a.len() == b.len() => {
            let max = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            format!("max abs diff {max:.1e}")
        }
        (Ok((_, a)), Ok((_, b))) => format!("output sizes differ: {} vs {}", a.len(), b.len()),
        _ => "-".to_string(),
    }
}
