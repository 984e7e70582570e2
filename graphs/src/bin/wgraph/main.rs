//! The `wgraph` command-line tool: run HF checkpoints on the GPU, dump their
//! graphs, check their weights, inspect safetensors files, embed and
//! classify text. `wgraph <command> --help` documents each command.

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use wgraph::graph::{DumpFormat, NamedTensors};
use wgraph::weights::{safetensors_bytes, save_safetensors};
use wgraph::{CompileOptions, Compiler, Device, Weights};
use wgraph_graphs::embed::{cosine, SentenceEmbedder};
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
    /// HF's forward(labels=...) then loss.backward(), on the GPU: writes
    /// `loss` (f32 scalar) and, under every parameter's checkpoint name and
    /// shape, the gradient PyTorch leaves in `param.grad` (dropout off).
    /// Heads: DistilBertForSequenceClassification and
    /// BertForSequenceClassification (problem_type from config.json, else
    /// HF's rule: one label is regression, integer labels single-label
    /// cross-entropy, float labels multi-label BCE) and LlamaForCausalLM
    /// (labels shifted inside, -100 ignored). Exit status: 0 on success, 2
    /// on bad input, 1 when compiling or running fails.
    Grad {
        /// HF checkpoint directory (config.json + model.safetensors).
        model_dir: PathBuf,
        /// HF forward arguments (input_ids, attention_mask, token_type_ids;
        /// any integer dtype) plus `labels`: class ids [batch], float
        /// targets [batch] or [batch, num_labels], or token ids [batch, seq].
        #[arg(long)]
        inputs: PathBuf,
        /// Where to write `loss` and the gradients (written atomically).
        #[arg(long)]
        output: PathBuf,
        /// Also write every module output and the gradient with respect to
        /// it as `grad/<module path>` (compare with tools/torch_dump.py
        /// --grads).
        #[arg(long)]
        dump: Option<PathBuf>,
    },
    /// Fine-tune a checkpoint on the GPU (HF's loss from `labels`, backward,
    /// torch.optim's update, all in one program per step) and write the
    /// result as an HF checkpoint directory.
    #[command(after_help = train::AFTER_HELP)]
    Train(train::TrainArgs),
    /// Time a checkpoint on synthetic inputs of one shape: load and
    /// compile, the first run, the median of N runs; for decoders prefill
    /// and decode; with --profile, every kernel.
    #[command(after_help = bench::AFTER_HELP)]
    Bench(bench::BenchArgs),
    /// Print the graph a checkpoint builds: one line per node with its
    /// type and the Rust line that built it.
    Dump {
        model_dir: PathBuf,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
        /// Instead, compile for this machine's adapter and write the
        /// compiled program to this directory: graph.txt, graph.dot (each
        /// kernel a cluster), schedule.txt, memory.txt, kernels/*.wgsl.
        #[arg(long, value_name = "DIR")]
        compiled: Option<PathBuf>,
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
    /// Compare two dumps of intermediates (ours from `run --dump` or
    /// `grad --dump`, the reference from tools/torch_dump.py) tensor by
    /// tensor, forward values in our execution order, then `grad/` entries
    /// in backward order (loss to inputs), and name the first divergence and
    /// the pass it is in. Exit status: 0 when all agree, 1 when something
    /// diverged, 2 on bad input.
    Compare {
        ours: PathBuf,
        reference: PathBuf,
        /// Relative tolerance.
        #[arg(long, default_value_t = 1e-3)]
        rtol: f64,
        /// Absolute tolerance.
        #[arg(long, default_value_t = 1e-4)]
        atol: f64,
        /// Also draw max |ours - reference| per tensor along the execution
        /// order (log scale, first divergence marked) to this .png or .svg.
        #[arg(long)]
        plot: Option<PathBuf>,
    },
    /// Compare two graph JSON dumps (`wgraph dump --format json`,
    /// `examples/reversal.rs --dump-graph`) structurally and print the first
    /// differences: a missing or extra op, a different attribute (axis,
    /// eps, mask, permutation) or operand. Nodes match by what they compute,
    /// not by number or name. Exit status: 0 when the graphs compute the
    /// same thing, 1 when they differ, 2 on bad input.
    Diff { a: PathBuf, b: PathBuf },
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
    /// Whisper's log-mel front end: a WAV file to `input_features`
    /// (`[1, n_mels, 3000]`, as HF's WhisperFeatureExtractor), ready for
    /// `wgraph run` on a Whisper checkpoint. Reads 8/16/24/32-bit PCM and
    /// 32-bit float WAV at 1 kHz to 384 kHz; several channels are averaged,
    /// other rates resampled to 16 kHz. Like HF, only the first 30 s are used
    /// (said on stderr when a file is longer) and shorter clips, even empty
    /// ones, are padded with silence. Exit status 2 on bad input.
    Features {
        /// The WAV file (a regular file: FIFOs and directories are refused).
        wav: PathBuf,
        #[arg(long)]
        output: PathBuf,
        /// Mel bins, 1 to 201 (N_FFT/2+1): 80 for most Whisper checkpoints,
        /// 128 for large-v3 (`num_mel_bins` in config.json).
        #[arg(long, default_value_t = 80)]
        n_mels: usize,
    },
    /// Run a checkpoint with every node kept and report the first op that
    /// produces NaN or Inf, with its inputs' statistics. Exit status: 0 when
    /// every value is finite, 1 when one is not, 2 on bad input.
    FindNan {
        model_dir: PathBuf,
        #[arg(long)]
        inputs: PathBuf,
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

mod batches;
mod bench;
mod bench_inputs;
mod bench_profile;
mod debug;
mod failure;
mod grad;
mod inputs;
mod outdir;
mod paths;
mod plot;
mod text;
mod train;

use debug::{check, compare, find_nan, inspect};
use inputs::prepare_inputs;
use text::{classify, generate};

fn main() -> ExitCode {
    // An interrupted run leaves no temporary files behind (outputs are
    // written through them, then renamed).
    let _ = ctrlc::set_handler(|| {
        wgraph::io::remove_temporary_files();
        std::process::exit(130);
    });
    let cli = Cli::parse();
    if let Command::Grad { model_dir, inputs, output, dump } = &cli.command {
        return failure::exit(grad::grad(model_dir, inputs, output, dump.as_deref()));
    }
    if let Command::Train(args) = &cli.command {
        return failure::exit(train::train(args));
    }
    if let Command::Bench(args) = &cli.command {
        return failure::exit(bench::bench(args));
    }
    let status = match &cli.command {
        Command::Compare { ours, reference, rtol, atol, plot } => {
            Some(compare(ours, reference, *rtol, *atol, plot.as_deref()))
        }
        Command::Check { model_dir, inputs, rtol, atol } => Some(check(model_dir, inputs, *rtol, *atol)),
        Command::FindNan { model_dir, inputs } => Some(find_nan(model_dir, inputs)),
        Command::Diff { a, b } => Some(debug::diff(a, b)),
        _ => None,
    };
    // Commands that answer a question (did it diverge?) exit 1 for "yes";
    // their own failures then exit 1 too, bad input 2.
    if let Some(status) = status {
        return match status {
            Ok(true) => ExitCode::from(1),
            Ok(false) => ExitCode::SUCCESS,
            Err(e) if is_broken_pipe(&*e) => ExitCode::SUCCESS,
            Err(e) => failure::exit(Err(failure::classify(e))),
        };
    }
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&*e) => ExitCode::SUCCESS,
        Err(e) => failure::exit(Err(failure::classify(e))),
    }
}

/// Output piped into a command that stopped reading (`| head`): not an error.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
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
        Command::Dump { model_dir, format, compiled: Some(dir) } => {
            let _ = format;
            let loaded = zoo::load(&model_dir)?;
            let weights = Weights::from_dir(&model_dir)?;
            let device = Device::new()?;
            let bar = step("checking weights and compiling");
            let model = Compiler::new(&device).compile(&loaded.graph, &weights)?;
            bar.finish_and_clear();
            let files = wgraph::debug::write_program_dump(model.program(), &dir)?;
            say!("wrote {} files to {} ({} kernels)", files.len(), dir.display(), model.program().kernels.len());
            Ok(())
        }
        Command::Dump { model_dir, format, compiled: None } => {
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
            use wgraph_graphs::audio;
            // Flags first: a bad --n-mels is refused before any audio is read.
            audio::check_mel_bins(n_mels)?;
            let same = |a: &Path, b: &Path| a.canonicalize().is_ok_and(|a| b.canonicalize().is_ok_and(|b| a == b));
            if same(&wav, &output) {
                return Err(
                    format!("--output {} is the WAV file itself; refusing to overwrite it", output.display()).into()
                );
            }
            let clip = audio::load(&wav)?;
            if clip.truncated {
                eprintln!(
                    "note: {} is {:.2} s long; only its first {} s are used (Whisper's window; HF's WhisperFeatureExtractor truncates the same way)",
                    wav.display(),
                    clip.seconds,
                    audio::CHUNK_SECONDS
                );
            }
            if clip.source_rate != audio::SAMPLE_RATE {
                eprintln!("resampled {} Hz to {} Hz", clip.source_rate, audio::SAMPLE_RATE);
            }
            let features = audio::log_mel(&clip.samples, n_mels)?.reshape([1, n_mels, audio::FRAMES])?;
            save_safetensors(&output, &NamedTensors(vec![("input_features".into(), features)]), None)?;
            eprintln!(
                "wrote input_features [1, {n_mels}, {}] for {:.2} s of audio to {}",
                audio::FRAMES,
                clip.samples.len() as f64 / audio::SAMPLE_RATE as f64,
                output.display()
            );
            Ok(())
        }
        // Handled in `main` for their exit statuses.
        Command::Compare { .. }
        | Command::Diff { .. }
        | Command::Check { .. }
        | Command::FindNan { .. }
        | Command::Grad { .. }
        | Command::Train(_)
        | Command::Bench(_) => Ok(()),
        Command::Generate { model_dir, prompt, input_ids, max_new_tokens } => {
            generate(&model_dir, prompt.as_deref(), input_ids, max_new_tokens)
        }
    }
}

fn weight_count(g: &wgraph::Graph) -> usize {
    g.ir().map(|ir| ir.weights().len()).unwrap_or(0)
}

fn run_model(model_dir: &Path, inputs: &Path, output: &Path, dump: Option<&Path>) -> Result<()> {
    paths::refuse_overwriting_inputs(model_dir, inputs, output, dump).map_err(|f| f.message())?;
    let loaded = zoo::load(model_dir)?;
    let weights = Weights::from_dir(model_dir)?;
    let feed = prepare_inputs(&loaded.graph, inputs)?;
    let device = Device::new()?;
    let options =
        CompileOptions { taps: if dump.is_some() { vec!["*".into()] } else { Vec::new() }, ..Default::default() };
    let bar = step("checking weights, compiling, uploading");
    // One run: quick kernels where the driver compiles at first dispatch.
    let model = Compiler::new(&device).with_options(options).compile_tiered(&loaded.graph, &weights)?;
    bar.finish_and_clear();
    let (outputs, taps) = model.current().run_with_taps(feed)?;
    let mut files = vec![(output, safetensors_bytes(output, &outputs, None)?)];
    let mut dumped = 0;
    if let Some(path) = dump {
        // The graph outputs belong in the dump too, under HF's output names.
        let mut taps = taps;
        for (name, t) in outputs.iter() {
            if taps.get(name).is_none() {
                taps.0.push((name.to_string(), t.clone()));
            }
        }
        dumped = taps.len();
        files.push((path, wgraph::debug::dump_bytes(path, &taps)?));
    }
    // The outputs and the dump of one run land together or not at all.
    paths::write_together(&files)?;
    eprintln!("wrote {} ({})", output.display(), outputs.names().collect::<Vec<_>>().join(", "));
    if let Some(path) = dump {
        eprintln!("wrote {dumped} intermediates to {}", path.display());
    }
    Ok(())
}
