//! wgraph against burn's wgpu backend on the same adapter, in one process:
//! matmul GFLOP/s (the default), a BERT-base layer's inference, and two
//! training steps (the BERT layer, the reversal transformer). Each
//! workload prints a markdown table; `burn / wgraph` above 1 means wgraph
//! is faster.
//!
//! ```text
//! cargo run --release --manifest-path benches/burn_peer/Cargo.toml -- --workload all
//! ```
//!
//! All wgraph measurements run first and wgraph's device is dropped before
//! burn starts: burn's runtime keeps threads of its own alive once started,
//! and on a 2-core machine anything running beside lavapipe's workers
//! shows in the other's time.

mod bert_inference;
mod bert_layer;
mod bert_training;
mod burn_optim;
mod failure;
mod matmul;
mod report;
mod reversal;
mod timing;
mod train_timing;
mod weights;

use burn::tensor::Device;
use burn_optim::Clipping;
use clap::{Parser, ValueEnum};

#[derive(Parser, Debug)]
#[command(about = "wgraph vs burn (wgpu backend) on the same adapter")]
struct Args {
    /// Which comparison to run.
    #[arg(long, value_enum, default_value_t = Workload::Matmul)]
    workload: Workload,
    /// Timed calls (inference) or steps (training) per case, after the
    /// warmups. Default: 10 for bert-layer, 5 for train-bert-layer, 30
    /// for train-reversal. The matmul table times by a budget instead.
    #[arg(long)]
    steps: Option<usize>,
    /// Train the reversal model in burn with burn's own
    /// `GradientClippingConfig::Norm(1.0)`, which clips each parameter's
    /// gradient by its own norm, instead of the global norm wgraph and
    /// PyTorch use.
    #[arg(long)]
    burn_builtin_clipping: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Workload {
    Matmul,
    BertLayer,
    TrainBertLayer,
    TrainReversal,
    All,
}

impl Workload {
    fn expand(self) -> Vec<Workload> {
        match self {
            Workload::All => {
                vec![Workload::Matmul, Workload::BertLayer, Workload::TrainBertLayer, Workload::TrainReversal]
            }
            one => vec![one],
        }
    }
}

/// What is left to do once wgraph has measured a workload: burn's side
/// (given burn's device and the adapter name), then the table. It holds
/// wgraph's results and the weights and data burn must reuse.
type BurnPhase = Box<dyn FnOnce(&Device, &str)>;

fn main() {
    let args = Args::parse();
    let clipping = if args.burn_builtin_clipping { Clipping::BurnPerParameter(1.0) } else { Clipping::GlobalNorm(1.0) };
    let steps = |default: usize| args.steps.unwrap_or(default);
    let (adapter, phases) = {
        let device = wgraph::Device::new().expect("wgraph needs a wgpu adapter (source scripts/env.sh first)");
        let adapter = device.describe();
        eprintln!("wgraph on {adapter}");
        let phases: Vec<BurnPhase> = args
            .workload
            .expand()
            .into_iter()
            .map(|workload| -> BurnPhase {
                eprintln!("wgraph: {workload:?}");
                match workload {
                    Workload::Matmul => {
                        let ours = matmul::wgraph_side(&device);
                        Box::new(move |d: &Device, a: &str| matmul::burn_side_and_print(ours, d, a))
                    }
                    Workload::BertLayer => {
                        let ours = bert_inference::wgraph_side(&device, steps(10));
                        Box::new(move |d: &Device, a: &str| bert_inference::burn_side_and_print(ours, d, a))
                    }
                    Workload::TrainBertLayer => {
                        let ours = bert_training::wgraph_side(&device, steps(5));
                        Box::new(move |d: &Device, a: &str| bert_training::burn_side_and_print(ours, d, a))
                    }
                    Workload::TrainReversal => {
                        let ours = reversal::wgraph_side(&device, steps(30));
                        Box::new(move |d: &Device, a: &str| reversal::burn_side_and_print(ours, d, a, clipping))
                    }
                    Workload::All => unreachable!("expand() lists single workloads"),
                }
            })
            .collect();
        (adapter, phases)
    };
    // wgraph's device is gone; burn picks its adapter by wgpu's default
    // selection, the only one on a machine with lavapipe alone.
    let device = Device::wgpu(Default::default());
    for phase in phases {
        phase(&device, &adapter);
    }
}
