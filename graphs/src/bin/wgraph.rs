//! The `wgraph` command-line tool: run HF checkpoints on the GPU, dump their
//! graphs, check their weights, inspect safetensors files, embed and
//! classify text. `wgraph <command> --help` documents each command.

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use wgraph::graph::{DumpFormat, NamedTensors, Op};
use wgraph::weights::save_safetensors;
use wgraph::{CompileOptions, Compiler, DType, Device, Tensor, Weights};
use wgraph_graphs::embed::{cosine, SentenceEmbedder};
use wgraph_graphs::text::TextEncoder;
use wgraph_graphs::zoo;

#[derive(Parser)]
#[command(name = "wgraph", version, about = "Run, check and debug HF transformer checkpoints on the GPU with wgraph")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Dot,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run a checkpoint on inputs named as the HF forward arguments
    /// (input_ids, attention_mask, token_type_ids; any integer dtype).
    Run {
        /// HF checkpoint directory (config.json + model.safetensors).
        model_dir: PathBuf,
        /// Inputs, one tensor per forward argument.
        #[arg(long)]
        inputs: PathBuf,
        /// Where to write the outputs (`logits`, `last_hidden_state`).
        #[arg(long)]
        output: PathBuf,
        /// Also write every named intermediate (HF module paths), in
        /// execution order, to this file.
        #[arg(long)]
        dump: Option<PathBuf>,
    },
    /// Print the graph a checkpoint builds: one line per node with its
    /// type and the Rust line that built it.
    Dump {
        model_dir: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Check every weight the graph needs against the checkpoint: missing
    /// names, shapes, dtypes and unused tensors, in one report.
    CheckWeights { model_dir: PathBuf },
    /// List the tensors of a safetensors file (name, dtype, shape) and its
    /// metadata.
    Inspect { file: PathBuf },
    /// Sentence embeddings (a sentence-transformers BERT checkpoint such as
    /// all-MiniLM-L6-v2) and their cosine similarities.
    Embed {
        model_dir: PathBuf,
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Classify texts with a sequence-classification checkpoint; prints
    /// each label's probability.
    Classify {
        model_dir: PathBuf,
        #[arg(required = true)]
        texts: Vec<String>,
    },
    /// Compare two dumps of intermediates (ours from `run --dump`, the
    /// reference from tools/torch_dump.py) tensor by tensor in our
    /// execution order and name the first divergence. Exit status: 0 when
    /// all agree, 1 when something diverged, 2 on bad input.
    Compare {
        ours: PathBuf,
        reference: PathBuf,
        /// Relative tolerance.
        #[arg(long, default_value_t = 1e-3)]
        rtol: f64,
        /// Absolute tolerance.
        #[arg(long, default_value_t = 1e-4)]
        atol: f64,
    },
    /// Run a checkpoint on the GPU and on the CPU interpreter side by side,
    /// op by op, and name the first op whose GPU result differs (a kernel
    /// bug, as opposed to a model bug). Exit status: 0 when all agree, 1 on
    /// a difference, 2 on bad input.
    Check {
        model_dir: PathBuf,
        #[arg(long)]
        inputs: PathBuf,
        #[arg(long, default_value_t = 1e-3)]
        rtol: f64,
        #[arg(long, default_value_t = 1e-4)]
        atol: f64,
    },
    /// Whisper's log-mel front end: a 16 kHz WAV file to `input_features`
    /// (`[1, n_mels, 3000]`, as HF's WhisperFeatureExtractor), ready for
    /// `wgraph run` on a Whisper checkpoint.
    Features {
        wav: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// Mel bins: 80 for most Whisper checkpoints, 128 for large-v3
        /// (`num_mel_bins` in config.json).
        #[arg(long, default_value_t = 80)]
        n_mels: usize,
    },
    /// Greedy generation with a LLaMA-style checkpoint and a KV cache
    /// (the same tokens as HF `generate(do_sample=False)`).
    Generate {
        model_dir: PathBuf,
        /// Text prompt (needs tokenizer.json in the checkpoint).
        #[arg(long, conflicts_with = "input_ids", required_unless_present = "input_ids")]
        prompt: Option<String>,
        /// Prompt token ids, comma separated (`1,2,3`).
        #[arg(long, value_delimiter = ',')]
        input_ids: Option<Vec<i64>>,
        #[arg(long, default_value_t = 32)]
        max_new_tokens: usize,
    },
}

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// `println!` that reports a closed stdout (`wgraph dump ... | head`) as an
/// error instead of panicking; `main` treats it as a normal exit.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

/// `print!` with the same behaviour as `say!`.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)?
    }};
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let status = match &cli.command {
        Command::Compare { ours, reference, rtol, atol } => Some(compare(ours, reference, *rtol, *atol)),
        Command::Check { model_dir, inputs, rtol, atol } => Some(check(model_dir, inputs, *rtol, *atol)),
        _ => None,
    };
    if let Some(status) = status {
        return match status {
            Ok(true) => ExitCode::from(1),
            Ok(false) => ExitCode::SUCCESS,
            Err(e)
                if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
            {
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        };
    }
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A spinner on stderr for slow steps, shown only on a terminal.
fn step(message: &str) -> ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        ProgressBar::new_spinner()
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}").unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Run { model_dir, inputs, output, dump } => run_model(&model_dir, &inputs, &output, dump.as_deref()),
        Command::Dump { model_dir, format } => {
            let loaded = zoo::load(&model_dir)?;
            let format = match format {
                Format::Text => DumpFormat::Text,
                Format::Dot => DumpFormat::Dot,
                Format::Json => DumpFormat::Json,
            };
            say_raw!("{}", loaded.graph.dump_as(format));
            Ok(())
        }
        Command::CheckWeights { model_dir } => {
            let loaded = zoo::load(&model_dir)?;
            let checked = loaded.graph.check_weights(&Weights::from_dir(&model_dir)?)?;
            say!(
                "all {} weights of `{}` are present with the right shapes and dtypes",
                weight_count(&loaded.graph),
                loaded.graph.name()
            );
            say_raw!("{checked}");
            Ok(())
        }
        Command::Inspect { file } => inspect(&file),
        Command::Embed { model_dir, texts } => {
            let device = Device::new()?;
            let bar = step("checking weights and compiling");
            let embedder = SentenceEmbedder::open(&model_dir, &device)?;
            bar.finish_and_clear();
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let vectors = embedder.embed(&refs)?;
            for (t, v) in texts.iter().zip(&vectors) {
                let head: Vec<String> = v.iter().take(4).map(|x| format!("{x:+.4}")).collect();
                say!("{t:?}: [{}, ...] ({} dims)", head.join(", "), v.len());
            }
            say!("cosine similarities:");
            for (i, a) in vectors.iter().enumerate() {
                let row: Vec<String> = vectors.iter().map(|b| format!("{:+.3}", cosine(a, b))).collect();
                say!("  [{i}] {}", row.join(" "));
            }
            Ok(())
        }
        Command::Classify { model_dir, texts } => classify(&model_dir, &texts),
        Command::Features { wav, output, n_mels } => {
            let samples = wgraph_graphs::audio::read_wav(&wav)?;
            let features = wgraph_graphs::audio::log_mel(&samples, n_mels)?;
            let features = features.reshape([1, n_mels, 3000])?;
            save_safetensors(&output, &NamedTensors(vec![("input_features".into(), features)]), None)?;
            eprintln!(
                "wrote input_features [1, {n_mels}, 3000] for {:.2} s of audio to {}",
                samples.len() as f64 / 16000.0,
                output.display()
            );
            Ok(())
        }
        // Handled in `main` for their exit statuses.
        Command::Compare { .. } | Command::Check { .. } => Ok(()),
        Command::Generate { model_dir, prompt, input_ids, max_new_tokens } => {
            generate(&model_dir, prompt.as_deref(), input_ids, max_new_tokens)
        }
    }
}

fn weight_count(g: &wgraph::Graph) -> usize {
    g.ir().map(|ir| ir.weights().len()).unwrap_or(0)
}

/// Reads every tensor of a safetensors file, in its stored dtype.
fn read_file(path: &Path) -> Result<Vec<(String, Tensor)>> {
    let w = Weights::open([path])?;
    let names: Vec<String> = w.names().map(String::from).collect();
    names.into_iter().map(|n| Ok((n.clone(), w.read(&n)?))).collect()
}

fn run_model(model_dir: &Path, inputs: &Path, output: &Path, dump: Option<&Path>) -> Result<()> {
    let loaded = zoo::load(model_dir)?;
    let weights = Weights::from_dir(model_dir)?;
    let feed = prepare_inputs(&loaded.graph, inputs)?;
    let device = Device::new()?;
    let options =
        CompileOptions { taps: if dump.is_some() { vec!["*".into()] } else { Vec::new() }, ..Default::default() };
    let bar = step("checking weights, compiling, uploading");
    let model = Compiler::new(&device).with_options(options).compile(&loaded.graph, &weights)?;
    bar.finish_and_clear();
    let (outputs, taps) = model.run_with_taps(feed)?;
    save_safetensors(output, &outputs, None)?;
    eprintln!("wrote {} ({})", output.display(), outputs.names().collect::<Vec<_>>().join(", "));
    if let Some(path) = dump {
        // The graph outputs belong in the dump too, under HF's output names.
        let mut taps = taps;
        for (name, t) in outputs.iter() {
            if taps.get(name).is_none() {
                taps.0.push((name.to_string(), t.clone()));
            }
        }
        let order: Vec<&str> = taps.names().collect();
        let metadata = HashMap::from([("execution_order".to_string(), serde_json::to_string(&order)?)]);
        save_safetensors(path, &taps, Some(metadata))?;
        eprintln!("wrote {} intermediates to {}", taps.len(), path.display());
    }
    Ok(())
}

fn inspect(file: &Path) -> Result<()> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| format!("{} is not a safetensors file: {e}", file.display()))?;
    // Execution order for `--dump` files (recorded in their metadata), else file order.
    let order: Vec<String> = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("execution_order"))
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or_default();
    let rank = |name: &str, offset: usize| order.iter().position(|o| o == name).unwrap_or(order.len() + offset);
    let mut tensors: Vec<(usize, String, String, Vec<usize>)> = meta
        .tensors()
        .into_iter()
        .map(|(n, i)| (rank(&n, i.data_offsets.0), n, format!("{:?}", i.dtype), i.shape.clone()))
        .collect();
    tensors.sort();
    let tensors: Vec<(String, String, Vec<usize>)> = tensors.into_iter().map(|(_, n, d, s)| (n, d, s)).collect();
    let total: usize = tensors.iter().map(|(_, _, s)| s.iter().product::<usize>()).sum();
    say!("{}: {} tensors, {total} elements", file.display(), tensors.len());
    for (name, dtype, shape) in &tensors {
        say!("  {name:<60} {dtype:<5} {shape:?}");
    }
    if let Some(m) = meta.metadata() {
        let mut m: Vec<_> = m.iter().collect();
        m.sort();
        say!("metadata:");
        for (k, v) in m {
            say!("  {k} = {v}");
        }
    }
    Ok(())
}

fn classify(model_dir: &Path, texts: &[String]) -> Result<()> {
    let loaded = zoo::load(model_dir)?;
    if !loaded.graph.ir()?.outputs.iter().any(|(n, _)| n == "logits") {
        return Err(
            format!("{} is not a classification checkpoint (its graph has no `logits`)", model_dir.display()).into()
        );
    }
    let weights = Weights::from_dir(model_dir)?;
    let device = Device::new()?;
    let bar = step("checking weights and compiling");
    let model = Compiler::new(&device).compile(&loaded.graph, &weights)?;
    bar.finish_and_clear();
    let text = TextEncoder::from_dir(model_dir, 512)?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = text.encode(&refs)?;
    let takes_types = loaded.graph.ir()?.inputs().iter().any(|&id| matches!(&loaded.graph.ir().map(|ir| ir.node(id).op.clone()), Ok(Op::Input { name, .. }) if name == "token_type_ids"));
    let feed: Vec<(&str, Tensor)> =
        batch.named().into_iter().filter(|(n, _)| *n != "token_type_ids" || takes_types).collect();
    let out: NamedTensors = model.run(feed)?;
    let logits = out.get("logits").ok_or("no logits")?;
    let n = logits.shape().get(1).copied().unwrap_or(0);
    for (t, row) in texts.iter().zip(logits.to_f32_vec().chunks(n.max(1))) {
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
        let total: f32 = exp.iter().sum();
        let (best, _) = exp.iter().enumerate().fold((0, f32::MIN), |b, (i, &v)| if v > b.1 { (i, v) } else { b });
        let label = |i: usize| loaded.labels.get(i).cloned().unwrap_or_else(|| format!("LABEL_{i}"));
        let probs: Vec<String> =
            exp.iter().enumerate().map(|(i, v)| format!("{}={:.3}", label(i), v / total)).collect();
        say!("{t:?}: {} ({})", label(best), probs.join(", "));
    }
    Ok(())
}

fn generate(model_dir: &Path, prompt: Option<&str>, input_ids: Option<Vec<i64>>, max_new_tokens: usize) -> Result<()> {
    let config = wgraph_graphs::HfConfig::from_dir(model_dir)?;
    if config.model_type()? != "llama" {
        return Err(format!("generate supports model_type `llama`, not `{}`", config.model_type()?).into());
    }
    let cfg = wgraph_graphs::llama::LlamaConfig::from_hf(&config)?;
    let tokenizer = match prompt {
        Some(_) => Some(
            tokenizers::Tokenizer::from_file(model_dir.join("tokenizer.json"))
                .map_err(|e| format!("--prompt needs {}: {e}", model_dir.join("tokenizer.json").display()))?,
        ),
        None => None,
    };
    let ids: Vec<i64> = match (prompt, input_ids, &tokenizer) {
        (Some(text), _, Some(t)) => {
            t.encode(text, true).map_err(|e| format!("tokenizing: {e}"))?.get_ids().iter().map(|&i| i as i64).collect()
        }
        (_, Some(ids), _) => ids,
        _ => return Err("give --prompt or --input-ids".into()),
    };
    let weights = Weights::from_dir(model_dir)?;
    let device = Device::new()?;
    let bar = step("checking weights and compiling");
    let generator = wgraph_graphs::generate::Generator::new(cfg, &weights, &device)?;
    bar.finish_and_clear();
    let stop = generator.eos_token_ids().to_vec();
    let tokens = generator.greedy(&ids, max_new_tokens, &stop)?;
    let list: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
    say!("{}", list.join(","));
    if let Some(t) = tokenizer {
        let text = t
            .decode(&tokens.iter().map(|&i| i as u32).collect::<Vec<_>>(), true)
            .map_err(|e| format!("decoding: {e}"))?;
        say!("{text}");
    }
    Ok(())
}

/// Reads a dump in execution order (its `execution_order` metadata), else
/// in file order.
fn read_dump(path: &Path) -> Result<NamedTensors> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| format!("{} is not a safetensors file: {e}", path.display()))?;
    let order: Vec<String> = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("execution_order"))
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or_default();
    let mut names: Vec<(usize, String)> = meta
        .tensors()
        .into_iter()
        .map(|(n, i)| (order.iter().position(|o| *o == n).unwrap_or(order.len() + i.data_offsets.0), n))
        .collect();
    names.sort();
    let w = Weights::open([path])?;
    let tensors = names.into_iter().map(|(_, n)| Ok((n.clone(), w.read(&n)?))).collect::<Result<Vec<_>>>()?;
    Ok(NamedTensors(tensors))
}

/// Prints the comparison; returns whether something diverged.
fn compare(ours: &Path, reference: &Path, rtol: f64, atol: f64) -> Result<bool> {
    let (a, b) = (read_dump(ours)?, read_dump(reference)?);
    let result = wgraph::debug::compare(&a, &b, wgraph::debug::Tolerance { rtol, atol });
    if result.rows.is_empty() {
        return Err(format!("{} and {} have no tensor names in common", ours.display(), reference.display()).into());
    }
    say!("{result}");
    Ok(result.diverged())
}

/// Reads an inputs file and fills what HF would default: `token_type_ids`
/// (zeros) and `attention_mask` (ones) when the graph takes them.
fn prepare_inputs(graph: &wgraph::Graph, inputs: &Path) -> Result<Vec<(String, Tensor)>> {
    let mut feed = read_file(inputs)?;
    // HF defaults token_type_ids to zeros; do the same when the file has none.
    let takes: Vec<(String, Vec<wgraph::Dim>)> = graph
        .ir()?
        .inputs()
        .iter()
        .filter_map(|&id| match &graph.ir().ok()?.node(id).op {
            Op::Input { name, shape, .. } => Some((name.clone(), shape.clone())),
            _ => None,
        })
        .collect();
    let has = |n: &str, feed: &[(String, Tensor)]| feed.iter().any(|(f, _)| f == n);
    if takes.iter().any(|(n, _)| n == "token_type_ids") && !has("token_type_ids", &feed) {
        if let Some((_, ids)) = feed.iter().find(|(n, _)| n == "input_ids") {
            let zeros = Tensor::zeros(DType::I64, ids.shape().to_vec())?;
            feed.push(("token_type_ids".into(), zeros));
        }
    }
    if takes.iter().any(|(n, _)| n == "attention_mask") && !has("attention_mask", &feed) {
        if let Some((_, ids)) = feed.iter().find(|(n, _)| n == "input_ids") {
            let ones = Tensor::from_f64(DType::I64, ids.shape().to_vec(), &vec![1.0; ids.numel()])?;
            feed.push(("attention_mask".into(), ones));
        }
    }
    Ok(feed)
}

/// Prints the op-by-op check; returns whether a node differed.
fn check(model_dir: &Path, inputs: &Path, rtol: f64, atol: f64) -> Result<bool> {
    let loaded = zoo::load(model_dir)?;
    let weights = Weights::from_dir(model_dir)?;
    let feed = prepare_inputs(&loaded.graph, inputs)?;
    let device = Device::new()?;
    let bar = step("compiling with every node kept, running GPU and interpreter");
    let report = wgraph::debug::check_against_interpreter(
        &device,
        &loaded.graph,
        &weights,
        feed,
        wgraph::debug::Tolerance { rtol, atol },
    )?;
    bar.finish_and_clear();
    say!("{report}");
    Ok(report.first_mismatch.is_some())
}
