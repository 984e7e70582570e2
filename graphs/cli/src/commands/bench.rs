//! `wgraph bench`: how long a checkpoint takes to load and compile, its
//! first run (where CPU drivers compile kernels) and its steady runs, on
//! synthetic inputs of a given shape; for decoders, prefill and decode;
//! with `--profile`, where the time goes kernel by kernel.

use crate::bench_inputs::synthetic;
use crate::bench_profile::{profile, ProfileMethod};
use crate::error::{bad, failed, CliError};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use wgraph::{Device, KernelTier, Loader, Model, Weights};
use wgraph_models::generate::Generator;
use wgraph_models::zoo;

/// Shown after the flags in `wgraph bench --help`.
pub(crate) const AFTER_HELP: &str = "\
Inputs are synthetic: token ids spread over the vocabulary, a full attention mask, zero token types, \
positions counting up, features in [-1, 1]. For Whisper, --seq counts mel frames and must be what \
the model takes (3000 for 30 s of audio).

--json prints one object: median_ms, min_ms, compile_s (opening the device, reading the checkpoint, \
checking, compiling, creating pipelines, uploading weights), first_run_ms (the driver may compile \
kernels at their first dispatch), throughput (sequences/s at the median), adapter, driver, cpu, cpu_flags, tune, kernels; with \
--generate also prefill_ms, decode_ms_per_token, tokens_per_s (batch 1, medians over --gen-reps); \
with --profile a `profile` object (and with --generate a `decode_profile`: one decode step, kernel by kernel).

Timing figures belong in BENCHMARKS.md, never in tests. Exit status: 0 on success, 2 on bad input \
(missing model, a shape the model refuses, zero batch or repetitions), 1 when compiling or running fails.";

/// `wgraph bench`'s flags.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// HF checkpoint directory (config.json + model.safetensors).
    model_dir: PathBuf,
    /// Sequences per run.
    #[arg(long)]
    batch: usize,
    /// Positions per sequence (Whisper: mel frames, 2 x max_source_positions).
    #[arg(long)]
    seq: usize,
    /// Timed runs after the first.
    #[arg(long, default_value_t = 10)]
    reps: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// Also time every kernel and print a table by kernel kind.
    #[arg(long)]
    profile: bool,
    /// How --profile times kernels.
    #[arg(long, value_enum, default_value = "auto")]
    profile_method: ProfileMethod,
    /// Rows of the slowest-kernels table.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Decoders: also generate N tokens greedily and time prefill and decode.
    #[arg(long, value_name = "N")]
    generate: Option<usize>,
    /// Prompt tokens for --generate.
    #[arg(long, value_name = "P", default_value_t = 16)]
    prompt_len: usize,
    /// Timed generations for --generate (after one warm-up).
    #[arg(long, default_value_t = 3)]
    gen_reps: usize,
}

/// Medians of a generation benchmark.
struct Generation {
    prefill_ms: f64,
    decode_ms_per_token: f64,
    /// With `--profile`: one decode step after the prompt and the new
    /// tokens, kernel by kernel.
    profile: Option<crate::bench_profile::Profile>,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ms_since(start: Instant) -> f64 {
    start.elapsed().as_secs_f64() * 1e3
}

/// Refuses flags no run can use, before anything is loaded.
fn check_flags(args: &Args) -> Result<(), CliError> {
    for (flag, value) in [("--batch", args.batch), ("--seq", args.seq), ("--reps", args.reps)] {
        if value == 0 {
            return Err(bad(format!("{flag} must be at least 1")));
        }
    }
    if args.generate == Some(0) || args.prompt_len == 0 || args.gen_reps == 0 {
        return Err(bad("--generate, --prompt-len and --gen-reps must be at least 1"));
    }
    let gguf = args.model_dir.is_file() && args.model_dir.extension().is_some_and(|e| e == "gguf");
    if !gguf && !args.model_dir.join("config.json").is_file() {
        return Err(bad(format!("{}: not a model directory (no config.json) or GGUF file", args.model_dir.display())));
    }
    Ok(())
}

pub(crate) fn exec(args: &Args) -> Result<(), CliError> {
    check_flags(args)?;
    let start = Instant::now();
    let loaded = zoo::load(&args.model_dir).map_err(bad)?;
    let feed = synthetic(&loaded.graph, &loaded.config, args.batch, args.seq)?;
    // The graph refuses shapes beyond its limits when inputs are bound:
    // find out before compiling.
    wgraph::graph::bind_inputs(&*loaded.graph.ir().map_err(bad)?, feed.clone()).map_err(bad)?;
    if args.generate.is_some() && loaded.config.model_type().map_err(bad)? != "llama" {
        return Err(bad(format!(
            "--generate needs a decoder (model_type `llama`), not `{}`",
            loaded.config.model_type().map_err(bad)?
        )));
    }
    let device = Device::new()?;
    let weights = Weights::from_dir(&args.model_dir)?;
    // The first result as users get it: quick kernels first where the
    // driver compiles at first dispatch; every timed run uses the tuned ones.
    let tiered = Loader::new(&device).load_tiered(&loaded.graph, &weights)?;
    let compile_s = start.elapsed().as_secs_f64();

    let first = Instant::now();
    let first_tier = tiered.tier();
    tiered.run(feed.clone())?;
    let first_run_ms = ms_since(first);
    let waited = Instant::now();
    let model = tiered.wait_tuned()?;
    let tuned_wait_s = waited.elapsed().as_secs_f64();
    let first = FirstRun { ms: first_run_ms, tier: first_tier, tuned_wait_s };
    let times = (0..args.reps)
        .map(|_| {
            let t = Instant::now();
            model.run(feed.clone()).map(|_| ms_since(t))
        })
        .collect::<Result<Vec<f64>, _>>()?;
    let min_ms = times.iter().copied().fold(f64::INFINITY, f64::min);
    let median_ms = median(times);
    let throughput = args.batch as f64 * 1e3 / median_ms;

    let profiled = if args.profile { Some(profile(&model, &feed, args.profile_method)?) } else { None };
    let kernels = model.program().kernels.len();
    let summary = report(args, &device, &model, compile_s, &first, median_ms, min_ms, throughput);
    // Generation compiles its own models: the forward one goes first, so
    // the peak memory is the larger of the two phases, not their sum.
    drop((model, tiered));
    let generation = match args.generate {
        Some(n) => Some(generate(args, &loaded.config, &device, n)?),
        None => None,
    };
    // The whole process: weights, the driver's copies, every instance run.
    let peak_rss_mb = wgraph::runtime::machine::peak_rss_bytes().map(|b| b as f64 / (1024.0 * 1024.0));

    if args.json {
        let mut out = json!({
            "model": args.model_dir.display().to_string(),
            "adapter": device.describe(),
            "driver": format!("{} {}", device.info().driver, device.info().driver_info).trim(),
            "cpu": wgraph::runtime::machine::cpu_model(),
            "cpu_flags": wgraph::runtime::machine::cpu_vector_flags(),
            "tune": device.settings().tune.clone().unwrap_or_else(|| "quick".into()),
            "batch": args.batch, "seq": args.seq, "reps": args.reps,
            "kernels": kernels,
            "compile_s": compile_s, "first_run_ms": first_run_ms,
            "first_run_tier": tier_name(first_tier), "tuned_wait_s": tuned_wait_s,
            "median_ms": median_ms, "min_ms": min_ms, "throughput": throughput,
            "peak_rss_mb": peak_rss_mb,
        });
        if let Some(g) = &generation {
            out["prefill_ms"] = json!(g.prefill_ms);
            out["decode_ms_per_token"] = json!(g.decode_ms_per_token);
            out["tokens_per_s"] = json!(1e3 / g.decode_ms_per_token);
            if let Some(p) = &g.profile {
                out["decode_profile"] = p.to_json();
            }
        }
        if let Some(p) = &profiled {
            out["profile"] = p.to_json();
        }
        emit(&out.to_string())?;
    } else {
        emit(&summary)?;
        if let Some(g) = &generation {
            emit(&format!(
                "generate    prompt {} tokens: prefill {:.1} ms; decode {:.2} ms/token ({:.2} tokens/s), medians of {}",
                args.prompt_len,
                g.prefill_ms,
                g.decode_ms_per_token,
                1e3 / g.decode_ms_per_token,
                args.gen_reps
            ))?;
        }
        if let Some(mb) = peak_rss_mb {
            emit(&format!("memory      peak RSS {mb:.0} MB (the whole process)"))?;
        }
        if let Some(p) = &profiled {
            emit(&format!("\n{}", p.render(median_ms, args.top)))?;
        }
        if let Some(p) = generation.as_ref().and_then(|g| g.profile.as_ref().map(|p| (g, p))) {
            emit(&format!("\none decode step\n{}", p.1.render(p.0.decode_ms_per_token, args.top)))?;
        }
    }
    Ok(())
}

/// Prints `text` and a newline; a reader that stopped reading (`| head`)
/// ends the command quietly, as in the other commands.
fn emit(text: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(failed(e)),
        _ => Ok(()),
    }
}

/// The human summary.
#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    device: &Device,
    model: &Model,
    compile_s: f64,
    first: &FirstRun,
    median_ms: f64,
    min_ms: f64,
    throughput: f64,
) -> String {
    format!(
        "model       {} ({} kernels) on {}\n\
         machine     {} ({}); driver {} {}\n\
         shape       batch {} x seq {}\n\
         compile     {compile_s:.2} s (device, checkpoint, compile, pipelines, upload)\n\
         first run   {:.1} ms ({} kernels{})\n\
         runs        median {median_ms:.2} ms, min {min_ms:.2} ms over {} ({throughput:.2} sequences/s)",
        args.model_dir.display(),
        model.program().kernels.len(),
        device.describe(),
        wgraph::runtime::machine::cpu_model().unwrap_or_else(|| "CPU unknown".into()),
        wgraph::runtime::machine::cpu_vector_flags().join(" "),
        device.info().driver,
        device.info().driver_info,
        args.batch,
        args.seq,
        first.ms,
        tier_name(first.tier),
        match first.tier {
            KernelTier::Quick =>
                format!("; the tuned ones, compiled in the background, served {:.2} s later", first.tuned_wait_s),
            KernelTier::Tuned | KernelTier::CompactAttention => String::new(),
        },
        args.reps
    )
}

/// The first run: its time, the kernel tier that served it and how long
/// the tuned tier took to be ready after it.
struct FirstRun {
    ms: f64,
    tier: KernelTier,
    tuned_wait_s: f64,
}

/// `quick` or `tuned`, as the JSON and the report say it.
fn tier_name(tier: KernelTier) -> &'static str {
    match tier {
        KernelTier::Quick => "quick",
        KernelTier::Tuned => "tuned",
        KernelTier::CompactAttention => "compact-attention",
    }
}

/// Greedy generation of `n` tokens after a synthetic prompt, batch 1: one
/// warm-up (so prefill and decode kernels are compiled), then `--gen-reps`
/// timed runs. Prefill is the time to the first new token; decode the
/// mean time per token after it.
fn generate(args: &Args, config: &wgraph_models::HfConfig, device: &Device, n: usize) -> Result<Generation, CliError> {
    let cfg = wgraph_models::llama::LlamaConfig::from_hf(config).map_err(bad)?;
    if n < 2 {
        return Err(bad("--generate needs at least 2 tokens to time decoding"));
    }
    if args.prompt_len + n > cfg.max_position_embeddings {
        return Err(bad(format!(
            "--prompt-len {} + --generate {n} exceeds the model's context of {} positions (max_position_embeddings)",
            args.prompt_len, cfg.max_position_embeddings
        )));
    }
    let vocab = cfg.vocab_size;
    let prompt: Vec<i64> = (0..args.prompt_len).map(|i| ((i * 7919 + 13) % vocab) as i64).collect();
    // The generator owns its registry (it adds the KV cache to it).
    let weights = Weights::from_dir(&args.model_dir)?;
    // A cache for this generation, as `wgraph generate` sizes it.
    let generator = Generator::for_one_generation(cfg, weights, device, args.prompt_len, n)?;
    if args.prompt_len + n > generator.context() {
        return Err(bad(format!(
            "--prompt-len {} + --generate {n} exceeds the generator's KV cache of {} positions",
            args.prompt_len,
            generator.context()
        )));
    }
    generator.greedy(&prompt, 2, &[])?;
    let (mut prefill, mut decode) = (Vec::new(), Vec::new());
    for _ in 0..args.gen_reps {
        let start = Instant::now();
        let mut stamps = Vec::with_capacity(n);
        generator.greedy_streaming(&prompt, n, &[], |_| stamps.push(ms_since(start)))?;
        let (Some(&first), Some(&last)) = (stamps.first(), stamps.last()) else {
            return Err(failed("generation produced no tokens"));
        };
        prefill.push(first);
        decode.push((last - first) / (stamps.len() - 1).max(1) as f64);
    }
    let profile = if args.profile {
        let past = args.prompt_len + n - 1;
        let feed = wgraph_models::generate::step_feed(&prompt[..1], past).map_err(bad)?;
        Some(profile(generator.decode_model(), &feed, args.profile_method)?)
    } else {
        None
    };
    Ok(Generation { prefill_ms: median(prefill), decode_ms_per_token: median(decode), profile })
}
