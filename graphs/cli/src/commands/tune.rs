//! `wgraph tune MODEL_DIR --batch B --seq S`: times the kernel candidates
//! of every matmul the model has, at the shape given, on this device, and
//! keeps the fastest in the device's tuning cache, which every later run
//! of any model on this device uses (`WGRAPH_TUNE=off` ignores it).

use crate::bench_inputs::synthetic;
use crate::error::{bad, failed};
use crate::progress::step;
use crate::Result;
use clap::ValueEnum;
use std::path::PathBuf;
use wgraph::compile::TuneMode;
use wgraph::{Device, Loader, Tuner, Weights};
use wgraph_models::zoo;

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    /// The compiler's pick and its closest rivals.
    Quick,
    /// Every candidate, including blocks that take long to compile.
    Full,
}

#[derive(clap::Args)]
pub(crate) struct Args {
    /// HF checkpoint directory (config.json + model.safetensors).
    model_dir: PathBuf,
    /// Sequences per run: the shape the kernels are timed at.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Positions per sequence (Whisper: mel frames).
    #[arg(long, default_value_t = 128)]
    seq: usize,
    /// How many candidates to time [default: WGRAPH_TUNE when it says
    /// quick or full, else full].
    #[arg(long, value_enum)]
    mode: Option<Mode>,
    /// Time again what the cache already holds.
    #[arg(long)]
    force: bool,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    if args.batch == 0 || args.seq == 0 {
        return Err(bad("--batch and --seq must be at least 1"));
    }
    let loaded = zoo::load(&args.model_dir)?;
    let feed = synthetic(&loaded.graph, &loaded.config, args.batch, args.seq)?;
    let mut bindings = wgraph::graph::bind_inputs(&*loaded.graph.ir()?, feed.clone())
        .map_err(|e| bad(format!("--batch {} --seq {}: {e}", args.batch, args.seq)))?
        .bindings;
    let device = Device::new()?;
    let weights = Weights::from_dir(&args.model_dir)?;
    let bar = step("checking weights and compiling");
    let model = Loader::new(&device).load(&loaded.graph, &weights)?;
    bar.finish_and_clear();
    for (s, v) in model.weight_bindings() {
        bindings.entry(s.clone()).or_insert(*v);
    }
    let mode = match args.mode {
        Some(Mode::Quick) => TuneMode::Quick,
        Some(Mode::Full) => TuneMode::Full,
        None => match wgraph::runtime::tune::mode_from_settings(device.settings())? {
            TuneMode::Quick if device.settings().tune.is_some() => TuneMode::Quick,
            _ => TuneMode::Full,
        },
    };
    let mut tuner = Tuner::with_mode(&device, mode);
    say!("{} on {}", args.model_dir.display(), device.describe());
    if let Some(cpu) = wgraph::runtime::machine::cpu_model() {
        say!("cpu: {cpu}");
    }
    let mut write_error = None;
    let tuned = tuner.tune_program(model.program(), &bindings, args.force, |t| {
        let case = &t.case;
        let mut line = format!(
            "{} [{}x{}x{}{}] {}",
            t.kernel_name,
            case.m,
            case.k,
            case.n,
            if case.batch > 1 { format!(", batch {}", case.batch) } else { String::new() },
            case.signature
        );
        if t.timings.is_empty() {
            line.push_str(&format!("\n  {} (cached)", t.chosen));
        }
        for timing in &t.timings {
            let mark = match (timing.kernel == t.chosen, timing.kernel == t.rule) {
                (true, true) => "  <- chosen (the rule's pick)",
                (true, false) => "  <- chosen",
                (false, true) => "  (the rule's pick)",
                (false, false) => "",
            };
            line.push_str(&format!("\n  {:<26} {:>8.1} GFLOP/s{mark}", timing.kernel.to_string(), timing.gflops(case)));
        }
        use std::io::Write as _;
        if write_error.is_none() {
            write_error = writeln!(std::io::stdout().lock(), "{line}").err();
        }
    })?;
    if let Some(e) = write_error {
        return Err(e.into());
    }
    let changed = tuned.iter().filter(|t| t.chosen != t.rule).count();
    match tuner.save().map_err(|e| failed(format!("writing the tuning cache: {e}")))? {
        Some(path) => say!(
            "{} matmul signatures, {changed} with a kernel other than the rule's; saved to {}",
            tuned.len(),
            path.display()
        ),
        None => say!(
            "{} matmul signatures, {changed} with a kernel other than the rule's; not saved: \
             WGRAPH_PIPELINE_CACHE=off leaves wgraph no cache directory",
            tuned.len()
        ),
    }
    Ok(())
}
