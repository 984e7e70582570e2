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
use wgraph_models::reversal::{self, Bug, ReversalConfig, TrainOptions};

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
    #[arg(long, default_value_t = 400)]
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
    /// Run the training doctor over the first 50 steps and print what it
    /// finds (`--doctor=table` adds the per-parameter figures).
    #[arg(long, num_args = 0..=1, default_missing_value = "lines", value_parser = ["lines", "table"])]
    doctor: Option<String>,
    /// Write the model's graph as JSON here first (compare a buggy variant
    /// with the correct one: `wgraph diff good.json bad.json`).
    #[arg(long)]
    dump_graph: Option<PathBuf>,
    /// Time every kernel of one training step and print where the time goes.
    #[arg(long)]
    profile: bool,
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
    if let Some(path) = &args.dump_graph {
        let model = reversal::build(&cfg);
        let json = wgraph::graph::dump_json(&model.graph.ir_unchecked());
        wgraph::io::write_atomic(path, json.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("graph written to {}", path.display());
        if args.steps == 0 {
            return Ok(());
        }
    }
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
    if args.profile {
        return profile(&device, &cfg, &options);
    }
    let bar = ProgressBar::new(options.steps as u64);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed}] {msg}")?);
    let start = Instant::now();
    // Without a terminal the bar is hidden: a line every 50 steps instead.
    let plain = bar.is_hidden();
    let doctor_steps = args.doctor.as_ref().map(|_| 50.min(options.steps));
    let (report, diagnosis) = reversal::train(&device, &cfg, &options, doctor_steps, |s| {
        bar.set_position(s.step as u64);
        let acc = s.accuracy.map(|a| format!(", accuracy {:.1}%", 100.0 * a)).unwrap_or_default();
        bar.set_message(format!("loss {:.4}{acc}", s.loss));
        if plain && (s.step % 50 == 0 || s.step == 1) {
            println!("step {} loss {:.4}{acc} [{:.0} s]", s.step, s.loss, start.elapsed().as_secs_f64());
        }
    })?;
    bar.finish();
    if let Some(d) = &diagnosis {
        for line in d.lines() {
            println!("{line}");
        }
        if args.doctor.as_deref() == Some("table") {
            print!("{}", d.table_text());
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "trained {} steps in {seconds:.1} s ({:.1} steps/s), {:.1} MiB of activations per step",
        options.steps,
        options.steps as f64 / seconds,
        report.peak_activation_bytes as f64 / (1 << 20) as f64
    );
    if let Some(dir) = &args.export {
        reversal::export::write_losses(dir, &report.losses)?;
    }
    let title = format!("reversal, length {}, vocabulary {}, seed {}", cfg.seq_len, cfg.vocab, options.seed);
    let accuracy = "exact-sequence accuracy (training batches)";
    match wgraph_cli::plot::training_curves(&args.plot, &report.losses, &report.accuracies, accuracy, &title) {
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

/// `--profile`: one training step, kernel by kernel, grouped by what they compute.
fn profile(device: &Device, cfg: &ReversalConfig, options: &TrainOptions) -> Result<(), Box<dyn std::error::Error>> {
    let options = TrainOptions { steps: 2, held_out: 1, ..options.clone() };
    let (mut trainer, data) = reversal::prepare(device, cfg, &options)?;
    trainer.step(data.train[0].inputs())?;
    let times = trainer.profile_step(data.train[1].inputs())?;
    let total: f64 = times.iter().map(|t| t.ms).sum();
    let rows = wgraph::runtime::by_kind(times.iter().map(|t| (t.kernel.as_str(), t.ms)));
    println!("{} kernels, {total:.1} ms when dispatched one by one", times.len());
    println!("{:<40} {:>6} {:>10} {:>7}", "kernel", "count", "total ms", "share");
    for (ops, count, ms) in rows.iter().take(25) {
        println!("{ops:<40} {count:>6} {ms:>10.2} {:>6.1}%", 100.0 * ms / total);
    }
    let mut slowest = times.clone();
    slowest.sort_by(|a, b| b.ms.total_cmp(&a.ms));
    println!("slowest kernels:");
    let program = trainer.model().program();
    for t in slowest.iter().take(12) {
        let k = program.kernels.iter().find(|k| k.name == t.kernel);
        let shapes = k
            .map(|k| {
                let ir = &program.ir;
                let ops: Vec<String> = ir.operands(k.root).iter().map(|&o| ir.node(o).ty.to_string()).collect();
                format!("{} <- {}", ir.node(k.root).ty, ops.join(", "))
            })
            .unwrap_or_default();
        println!("  {:<30} {:>8.2} ms  {shapes}", t.kernel, t.ms);
    }
    Ok(())
}
