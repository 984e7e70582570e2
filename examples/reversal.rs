//! Train a small transformer to reverse token sequences, on the GPU.
//!
//!     cargo run --release --example reversal
//!     cargo run --release --example reversal -- --seed 3 --seq-len 14 --vocab 24
//!     cargo run --release --example reversal -- --bug no-positions
//!     cargo run --release --example reversal -- --export twin && python tools/reversal_torch.py twin --check twin/wgraph_losses.safetensors
//!
//! Random sequences, the target is the sequence reversed; an encoder
//! (token + learned positional embeddings, pre-LN layers with
//! bidirectional multi-head attention and a GELU feed-forward, final layer
//! norm, output projection) trained with AdamW, warmup then cosine decay,
//! global-norm clipping. It ends with the exact-sequence accuracy on
//! held-out sequences none of which appeared in training.

use clap::Parser;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Instant;
use wgraph::Device;
use wgraph_graphs::reversal::{self, Bug, ReversalConfig, TrainOptions};

#[derive(Parser, Debug)]
#[command(about = "Train a small transformer to reverse sequences on the GPU and report held-out accuracy")]
struct Args {
    /// Seed for the initial weights and the data.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Tokens per sequence.
    #[arg(long, default_value_t = 11)]
    seq_len: usize,
    /// Distinct tokens.
    #[arg(long, default_value_t = 13)]
    vocab: usize,
    /// Training steps (one batch each).
    #[arg(long, default_value_t = 600)]
    steps: usize,
    /// Sequences per batch.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Peak learning rate (AdamW, linear warmup, cosine decay).
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Linear warmup steps before the cosine decay.
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    #[arg(long, default_value_t = 64)]
    d_model: usize,
    #[arg(long, default_value_t = 2)]
    layers: usize,
    #[arg(long, default_value_t = 4)]
    heads: usize,
    /// Held-out sequences for the final accuracy.
    #[arg(long, default_value_t = 1000)]
    held_out: usize,
    /// Build one of the training bug zoo's mistakes in: no-positions,
    /// causal-mask, frozen-embedding, tiny-lr, huge-lr, dead-relu.
    #[arg(long)]
    bug: Option<Bug>,
    /// Write the initial weights, the first --export-batches batches and
    /// config.json into DIR for tools/reversal_torch.py, then train as
    /// usual and add wgraph's losses (DIR/wgraph_losses.safetensors).
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Training batches --export writes.
    #[arg(long, default_value_t = 20)]
    export_batches: usize,
    /// Where to write the loss and accuracy curves (PNG).
    #[arg(long, default_value = "reversal-curves.png")]
    plot: PathBuf,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let mut cfg = ReversalConfig::new(args.seq_len, args.vocab);
    cfg.d_model = args.d_model;
    cfg.layers = args.layers;
    cfg.heads = args.heads;
    cfg.ff = 2 * args.d_model;
    cfg.bug = args.bug;
    cfg.validate()?;
    let options = TrainOptions {
        seed: args.seed,
        steps: args.steps,
        batch: args.batch,
        lr: args.lr,
        warmup: args.warmup,
        held_out: args.held_out,
        ..TrainOptions::default()
    };
    if let Some(dir) = &args.export {
        reversal::Export::new(&cfg, &options, args.export_batches)?.write(dir)?;
        println!("exported initial weights, {} batches and config.json to {}", args.export_batches, dir.display());
    }
    let device = Device::new()?;
    println!(
        "reversal: length {}, vocabulary {}, d_model {}, {} layers, {} heads, batch {}, {} steps, seed {}{} on {}",
        cfg.seq_len,
        cfg.vocab,
        cfg.d_model,
        cfg.layers,
        cfg.heads,
        options.batch,
        options.steps,
        options.seed,
        cfg.bug.map(|b| format!(", bug {b}")).unwrap_or_default(),
        device.describe()
    );
    let bar = ProgressBar::new(options.steps as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed}] {msg}")?);
    let start = Instant::now();
    let report = reversal::train(&device, &cfg, &options, |s| {
        bar.set_position(s.step as u64);
        let acc = s.accuracy.map(|a| format!(", accuracy {:.1}%", 100.0 * a)).unwrap_or_default();
        bar.set_message(format!("loss {:.4}{acc}", s.loss));
    })?;
    bar.finish();
    let seconds = start.elapsed().as_secs_f64();
    println!("trained {} steps in {seconds:.1} s ({:.1} steps/s)", options.steps, options.steps as f64 / seconds);
    if let Some(dir) = &args.export {
        reversal::export::write_losses(dir, &report.losses)?;
    }
    let title = format!("reversal, length {}, vocabulary {}, seed {}", cfg.seq_len, cfg.vocab, options.seed);
    match reversal::plot_curves(&args.plot, &report, &title) {
        Ok(()) => println!("curves written to {}", args.plot.display()),
        Err(e) => eprintln!("warning: no curves: {e}"),
    }
    println!(
        "exact-sequence accuracy: {:.1}% on {} held-out sequences",
        100.0 * report.held_out_accuracy,
        report.held_out_count
    );
    Ok(())
}
