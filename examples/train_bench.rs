//! Training steps per second: wgraph on the GPU against PyTorch on the CPU
//! (2 threads), in one run, on two workloads:
//!
//! - `reversal`: examples/reversal.rs's defaults (d_model 64, 2 layers,
//!   4 heads, feed-forward 128, batch 128, length 11, vocabulary 13; AdamW,
//!   warmup + cosine, clipping);
//! - `bert-layer`: one BERT-base encoder layer (hidden 768, 12 heads,
//!   intermediate 3072, GELU erf, post-LN, eps 1e-12) on `[8, 128, 768]`
//!   inputs, mean-squared error against a fixed target, AdamW.
//!
//! ```text
//! cargo run --release --example train_bench
//! cargo run --release --example train_bench -- --profile          # plus a per-kernel table
//! cargo run --release --example train_bench -- --python /work/venv/bin/python --only bert-layer
//! ```
//!
//! A step is what `Trainer::step` does (upload the batch, one submission for
//! forward, backward, clipping and update, read back the loss), timed one by
//! one after warmup; the table shows medians. The PyTorch side
//! (tools/train_bench_torch.py, run after wgraph finished so the two never
//! share the cores) times the same models and recipe with
//! `torch.set_num_threads(2)`.
//!
//! `--profile` times each kernel of the compiled step: GPU timestamps
//! between the dispatches of one submission where the adapter has them
//! (lavapipe does), else each kernel dispatched alone.

use clap::Parser;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;
use wgraph::graph::Scope;
use wgraph::optim::{AdamConfig, OptimizerConfig, Recipe};
use wgraph::train::Trainer;
use wgraph::{ops, DType, Device, Dim, Gelu, Graph, Model, Tensor, Weights};
use wgraph_models::attention::{merge_heads, split_heads};
use wgraph_models::nn;
use wgraph_models::reversal::{self, ReversalConfig, TrainOptions};

#[derive(Parser, Debug)]
#[command(about = "Training steps per second, wgraph (GPU) against PyTorch (CPU, 2 threads)")]
struct Args {
    /// Timed steps of the reversal model (after 3 warmup steps).
    #[arg(long, default_value_t = 40)]
    reversal_steps: usize,
    /// Timed steps of the BERT layer (after 2 warmup steps).
    #[arg(long, default_value_t = 6)]
    bert_steps: usize,
    /// Run one workload only: `reversal` or `bert-layer`.
    #[arg(long)]
    only: Option<String>,
    /// The Python with torch for tools/train_bench_torch.py.
    #[arg(long, default_value = "python3")]
    python: String,
    /// wgraph only.
    #[arg(long)]
    no_torch: bool,
    /// PyTorch's intra-op threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Time every kernel of the training step alone and print the top ones.
    #[arg(long)]
    profile: bool,
    /// Rows of the per-kernel table.
    #[arg(long, default_value_t = 12)]
    top: usize,
    /// First time the matmul kernel candidates of each training step on
    /// this device and keep the fastest in the tuning cache (as `wgraph
    /// tune` does for a checkpoint), then measure with them.
    #[arg(long)]
    tune: bool,
}

type Inputs = Vec<(String, Tensor)>;

struct Measured {
    compile_s: f64,
    first_ms: f64,
    median_ms: f64,
    min_ms: f64,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e}");
        std::process::exit(2);
    }
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let wants = |name: &str| args.only.as_deref().is_none_or(|o| o == name);
    let mut ours: BTreeMap<&str, Measured> = BTreeMap::new();
    {
        // The device (and lavapipe's threads) is gone before PyTorch starts.
        let device = Device::new()?;
        println!("wgraph on {}", device.describe());
        if wants("reversal") {
            if args.tune {
                let (trainer, batches, _) = reversal_case(&device)?;
                tune(&device, &trainer, &batches[0])?;
            }
            let (trainer, batches, compile_s) = reversal_case(&device)?;
            ours.insert("reversal", measure(trainer, &batches, compile_s, 3, args.reversal_steps, args)?);
        }
        if wants("bert-layer") {
            if args.tune {
                let (trainer, batches, _) = bert_layer_case(&device)?;
                tune(&device, &trainer, &batches[0])?;
            }
            let (trainer, batches, compile_s) = bert_layer_case(&device)?;
            ours.insert("bert-layer", measure(trainer, &batches, compile_s, 2, args.bert_steps, args)?);
        }
    }
    let torch = if args.no_torch { None } else { torch_side(args)? };
    println!();
    println!("| workload | wgraph compile s | wgraph first step ms | wgraph median ms | wgraph steps/s | PyTorch median ms | PyTorch steps/s | wgraph / PyTorch |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for (name, m) in &ours {
        let theirs =
            torch.as_ref().and_then(|t| t.get(*name)).and_then(|c| c.get("median_ms")).and_then(|v| v.as_f64());
        let (t_ms, t_sps, ratio) = match theirs {
            Some(t) => (format!("{t:.2}"), format!("{:.2}", 1000.0 / t), format!("{:.2}x", t / m.median_ms)),
            None => ("-".into(), "-".into(), "-".into()),
        };
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} (min {:.2}) | {:.2} | {t_ms} | {t_sps} | {ratio} |",
            m.compile_s,
            m.first_ms,
            m.median_ms,
            m.min_ms,
            1000.0 / m.median_ms
        );
    }
    Ok(())
}

/// `--tune`: every matmul signature of the training step, timed at the
/// batch's sizes; the winners go to the device's tuning cache.
fn tune(device: &Device, trainer: &Trainer, batch: &Inputs) -> Result<(), Box<dyn std::error::Error>> {
    let program = trainer.model().program();
    // The trainer feeds the optimizer's scalars itself; zeros bind no size.
    let mut feed = batch.clone();
    for id in program.ir.inputs() {
        if let wgraph::graph::Op::Input { name, dtype, shape } = &program.ir.node(id).op {
            if shape.is_empty() && !feed.iter().any(|(n, _)| n == name) {
                feed.push((name.clone(), Tensor::zeros(*dtype, Vec::<usize>::new())?));
            }
        }
    }
    let mut bindings = wgraph::graph::bind_inputs(&program.ir, feed)?.bindings;
    for (s, v) in trainer.model().weight_bindings() {
        bindings.entry(s.clone()).or_insert(*v);
    }
    let mut tuner = wgraph::Tuner::with_mode(device, wgraph::compile::TuneMode::Full);
    tuner.tune_program(program, &bindings, false, |t| {
        let chosen = t.timings.iter().find(|x| x.kernel == t.chosen);
        let best = chosen.map_or(String::from("cached"), |b| format!("{:.1} GFLOP/s", b.gflops(&t.case)));
        let rule = t.timings.iter().find(|x| x.kernel == t.rule).map(|r| format!("{:.1}", r.gflops(&t.case)));
        println!(
            "tune {} [{}x{}x{} x{}] {} -> {} ({best}; the rule's {}: {})",
            t.kernel_name,
            t.case.m,
            t.case.k,
            t.case.n,
            t.case.batch,
            t.case.signature,
            t.chosen,
            t.rule,
            rule.unwrap_or_else(|| "-".into())
        );
    })?;
    match tuner.save()? {
        Some(path) => println!("tuning cache: {}", path.display()),
        None => println!("tuning cache: none (WGRAPH_PIPELINE_CACHE=off)"),
    }
    Ok(())
}

/// The reversal model and recipe of the example's defaults, and its first batches.
fn reversal_case(device: &Device) -> Result<(Trainer, Vec<Inputs>, f64), Box<dyn std::error::Error>> {
    let cfg = ReversalConfig::new(11, 13);
    let options = TrainOptions { held_out: 0, ..TrainOptions::default() };
    let start = Instant::now();
    let (trainer, data) = reversal::prepare(device, &cfg, &options)?;
    let compile_s = start.elapsed().as_secs_f64();
    Ok((trainer, data.train.iter().map(|b| b.inputs()).collect(), compile_s))
}

/// One BERT-base encoder layer (HF `BertLayer`, names included) under an
/// MSE loss, AdamW with PyTorch's defaults.
fn bert_layer_case(device: &Device) -> Result<(Trainer, Vec<Inputs>, f64), Box<dyn std::error::Error>> {
    let (batch, seq, h, heads, inter, eps) = (8usize, 128usize, 768usize, 12usize, 3072usize, 1e-12);
    let g = Graph::new("bert_layer");
    let x = g.input("hidden_states", DType::F32, [Dim::new(batch), Dim::new(seq), Dim::new(h)]);
    let target = g.input("target", DType::F32, [Dim::new(batch), Dim::new(seq), Dim::new(h)]);
    let l = Scope::new(&g, "");
    let sa = l.pp("attention").pp("self");
    let head_dim = h / heads;
    let proj = |name: &str| split_heads(&nn::linear(&sa.pp(name), &x, h, h, true), heads, head_dim);
    let (q, k, v) = (proj("query"), proj("key"), proj("value"));
    let scores = ops::matmul(&q, &ops::transpose(&k, -1, -2)) * (head_dim as f64).powf(-0.5);
    let ctx = merge_heads(&ops::matmul(&ops::softmax(&scores, -1), &v), h);
    let o = l.pp("attention").pp("output");
    let attn_out = nn::linear(&o.pp("dense"), &ctx, h, h, true);
    let attn = nn::layer_norm(&o.pp("LayerNorm"), &(&attn_out + &x), h, eps);
    let up = ops::gelu(&nn::linear(&l.pp("intermediate").pp("dense"), &attn, h, inter, true), Gelu::Erf);
    let out = l.pp("output");
    let down = nn::linear(&out.pp("dense"), &up, inter, h, true);
    let y = nn::layer_norm(&out.pp("LayerNorm"), &(&down + &attn), h, eps);
    let loss = wgraph::autodiff::mse_loss(&y, &target);

    let mut rng = Lcg(0x5eed);
    let mut weights = Vec::new();
    {
        let ir = g.ir_unchecked();
        for w in ir.weights() {
            if let wgraph::graph::Op::Weight { name, shape, .. } = &ir.node(w).op {
                let shape: Vec<usize> = shape.iter().filter_map(|d| d.as_static()).collect();
                let n: usize = shape.iter().product();
                let values = if name.contains("LayerNorm") {
                    vec![if name.ends_with("weight") { 1.0 } else { 0.0 }; n]
                } else {
                    let bound = 1.0 / (*shape.last().unwrap_or(&1) as f32).sqrt();
                    (0..n).map(|_| rng.symmetric() * bound).collect()
                };
                weights.push((name.clone(), Tensor::new(shape, values)?));
            }
        }
    }
    let n = batch * seq * h;
    let batch_inputs = vec![
        (
            "hidden_states".to_string(),
            Tensor::new([batch, seq, h], (0..n).map(|_| rng.symmetric()).collect::<Vec<_>>())?,
        ),
        ("target".to_string(), Tensor::new([batch, seq, h], (0..n).map(|_| rng.symmetric()).collect::<Vec<_>>())?),
    ];
    let recipe = Recipe::new(OptimizerConfig::AdamW(AdamConfig::adamw_default()));
    let start = Instant::now();
    let trainer = Trainer::new(device, &loss, &[], &Weights::from_tensors(weights), recipe)?;
    Ok((trainer, vec![batch_inputs], start.elapsed().as_secs_f64()))
}

/// Uniform in [-1, 1), deterministic.
struct Lcg(u64);

impl Lcg {
    fn symmetric(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn measure(
    mut trainer: Trainer,
    batches: &[Inputs],
    compile_s: f64,
    warmup: usize,
    steps: usize,
    args: &Args,
) -> Result<Measured, Box<dyn std::error::Error>> {
    let name = trainer.model().program().ir.name.clone();
    let batch = |i: usize| batches[i % batches.len()].clone();
    let start = Instant::now();
    trainer.step(batch(0))?;
    let first_ms = start.elapsed().as_secs_f64() * 1e3;
    for i in 1..warmup {
        trainer.step(batch(i))?;
    }
    let mut times = Vec::with_capacity(steps);
    for i in 0..steps.max(1) {
        let b = batch(warmup + i);
        let start = Instant::now();
        trainer.step(b)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    let min_ms = times.iter().cloned().fold(f64::MAX, f64::min);
    let median_ms = median(times);
    println!(
        "{name}: {} kernels, compile {compile_s:.1} s, first step {first_ms:.1} ms, median {median_ms:.2} ms over {} steps",
        trainer.model().program().kernels.len(),
        steps.max(1)
    );
    if args.profile {
        let mut inputs = batch(0);
        inputs.extend(trainer.update().step_inputs(trainer.steps_taken() + 1)?);
        profile(trainer.model(), &inputs, median_ms, args.top)?;
    }
    Ok(Measured { compile_s, first_ms, median_ms, min_ms })
}

/// Each kernel's share of one training step: GPU timestamps between the
/// dispatches of one submission where the adapter has them (lavapipe
/// does), else every kernel dispatched alone (see the module docs).
fn profile(model: &Model, inputs: &Inputs, step_ms: f64, top: usize) -> Result<(), Box<dyn std::error::Error>> {
    let (times, method) = match model.profile_timestamps(inputs.clone())? {
        Some(t) => (t, "GPU timestamps"),
        None => (model.profile(inputs.clone())?, "each kernel dispatched alone"),
    };
    let program = model.program();
    let ir = &program.ir;
    let ty = |n: wgraph::graph::NodeId| ir.node(n).ty.to_string();
    let shapes: std::collections::HashMap<&str, String> = program
        .kernels
        .iter()
        .map(|k| {
            let reads: Vec<String> = k.inputs.iter().map(|&n| ty(n)).collect();
            (k.name.as_str(), format!("{} -> {}", reads.join(", "), ty(k.root)))
        })
        .collect();
    let mut rows: Vec<(f64, String, String)> = times
        .iter()
        .map(|t| (t.ms, t.kernel.clone(), shapes.get(t.kernel.as_str()).cloned().unwrap_or_default()))
        .collect();
    println!("  profile by {method}");
    let total: f64 = rows.iter().map(|r| r.0).sum();
    rows.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("  profile: kernels {total:.2} ms of a {step_ms:.2} ms step ({} dispatches)", rows.len());
    println!("  | kernel | ms | share of kernels | reads -> writes |");
    println!("  |---|---:|---:|---|");
    for (ms, name, shapes) in rows.iter().take(top) {
        println!("  | `{name}` | {ms:.3} | {:.1}% | {shapes} |", 100.0 * ms / total.max(1e-9));
    }
    let kinds = wgraph::runtime::by_kind(rows.iter().map(|(ms, name, _)| (name.as_str(), *ms)));
    println!("  | kernel kind | kernels | ms | share |");
    println!("  |---|---:|---:|---:|");
    for (kind, n, ms) in kinds.iter().take(top) {
        println!("  | `{kind}` | {n} | {ms:.3} | {:.1}% |", 100.0 * ms / total.max(1e-9));
    }
    Ok(())
}

/// Runs tools/train_bench_torch.py and parses its JSON line.
fn torch_side(args: &Args) -> Result<Option<serde_json::Value>, Box<dyn std::error::Error>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tools/train_bench_torch.py");
    let mut cmd = Command::new(&args.python);
    cmd.arg(script)
        .arg("--json")
        .args(["--threads", &args.threads.to_string()])
        .args(["--reversal-steps", &args.reversal_steps.to_string()])
        .args(["--bert-steps", &args.bert_steps.to_string()]);
    if let Some(only) = &args.only {
        cmd.args(["--only", only]);
    }
    println!("PyTorch: {cmd:?}");
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("warning: no PyTorch figures: cannot run {}: {e}", args.python);
            return Ok(None);
        }
    };
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        eprintln!("warning: no PyTorch figures: {} exited with {}", args.python, out.status);
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().rev().find(|l| l.starts_with('{')).ok_or("tools/train_bench_torch.py printed no JSON")?;
    Ok(Some(serde_json::from_str(line)?))
}
