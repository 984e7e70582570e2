//! The `wgraph` command-line tool: run HF checkpoints on the GPU, check and
//! debug them, train and benchmark them. One subcommand per file under
//! `commands/`, reached through the one dispatch in [`main`];
//! `wgraph <command> --help` documents each.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// `println!` that reports a closed stdout (`wgraph dump ... | head`) as an
/// error instead of panicking; it ends the command with status 0.
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

mod args;
mod batches;
mod bench_inputs;
mod bench_profile;
mod commands;
mod error;
mod inputs;
mod labels;
mod outdir;
mod paths;
mod progress;
mod server;

use commands::*;
use error::CliError;

#[derive(Parser)]
#[command(name = "wgraph", version, about = "Run, check and debug HF transformer checkpoints on the GPU with wgraph")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a checkpoint on inputs named as the HF forward arguments
    /// (input_ids, attention_mask, token_type_ids; any integer dtype).
    Run(run::Args),
    /// HF's forward(labels=...) then loss.backward(), on the GPU: writes
    /// `loss` (f32 scalar) and, under every parameter's checkpoint name and
    /// shape, the gradient PyTorch leaves in `param.grad` (dropout off).
    /// Heads: DistilBertForSequenceClassification and
    /// BertForSequenceClassification (problem_type from config.json, else
    /// HF's rule: one label is regression, integer labels single-label
    /// cross-entropy, float labels multi-label BCE) and LlamaForCausalLM
    /// (labels shifted inside, -100 ignored). Exit status: 0 on success, 2
    /// on bad input, 1 when compiling or running fails.
    Grad(grad::Args),
    /// Fine-tune a checkpoint on the GPU (HF's loss from `labels`, backward,
    /// torch.optim's update, all in one program per step) and write the
    /// result as an HF checkpoint directory.
    #[command(after_help = train::AFTER_HELP)]
    Train(train::Args),
    /// Time a checkpoint on synthetic inputs of one shape: load and
    /// compile, the first run, the median of N runs; for decoders prefill
    /// and decode; with --profile, every kernel.
    #[command(after_help = bench::AFTER_HELP)]
    Bench(bench::Args),
    /// Print the graph a checkpoint builds: one line per node with its
    /// type and the Rust line that built it.
    Dump(dump::Args),
    /// Check every weight the graph needs against the checkpoint: missing
    /// names, shapes, dtypes and unused tensors, in one report.
    CheckWeights(check_weights::Args),
    /// List the tensors of a safetensors or GGUF file (name, dtype, shape)
    /// and its metadata.
    Inspect(inspect::Args),
    /// Token ids of texts, one comma-separated line each, from an HF
    /// directory's tokenizer.json or a GGUF file's tokenizer.
    Tokenize(tokenize::Args),
    /// Sentence embeddings (a sentence-transformers BERT checkpoint such as
    /// all-MiniLM-L6-v2) and their cosine similarities.
    Embed(embed::Args),
    /// Classify texts with a sequence-classification checkpoint; prints
    /// each label's probability.
    Classify(classify::Args),
    /// Compare two dumps of intermediates (ours from `run --dump` or
    /// `grad --dump`, the reference from tools/torch_dump.py) tensor by
    /// tensor, forward values in our execution order, then `grad/` entries
    /// in backward order (loss to inputs), and name the first divergence and
    /// the pass it is in. Exit status: 0 when all agree, 1 when something
    /// diverged, 2 on bad input.
    Compare(compare::Args),
    /// Compare two graph JSON dumps (`wgraph dump --format json`,
    /// `examples/reversal.rs --dump-graph`) structurally and print the first
    /// differences: a missing or extra op, a different attribute (axis,
    /// eps, mask, permutation) or operand. Nodes match by what they compute,
    /// not by number or name. Exit status: 0 when the graphs compute the
    /// same thing, 1 when they differ, 2 on bad input.
    Diff(diff::Args),
    /// Run a checkpoint on the GPU and on the CPU interpreter side by side,
    /// op by op, and name the first op whose GPU result differs (a kernel
    /// bug, as opposed to a model bug). Exit status: 0 when all agree, 1 on
    /// a difference, 2 on bad input.
    Check(check::Args),
    /// Run every case of wgraph's op table on this device and on the CPU
    /// interpreter, fused and unfused, and name the cases whose GPU result
    /// differs: whether this device's numbers can be trusted (the browser
    /// demo's "Check this device"). Exit status: 0 when all agree, 1 on a
    /// difference.
    CheckDevice(check_device::Args),
    /// Whisper's log-mel front end: a WAV file to `input_features`
    /// (`[1, n_mels, 3000]`, as HF's WhisperFeatureExtractor), ready for
    /// `wgraph run` on a Whisper checkpoint. Reads 8/16/24/32-bit PCM and
    /// 32-bit float WAV at 1 kHz to 384 kHz; several channels are averaged,
    /// other rates resampled to 16 kHz. Like HF, only the first 30 s are used
    /// (said on stderr when a file is longer) and shorter clips, even empty
    /// ones, are padded with silence. Exit status 2 on bad input.
    Features(features::Args),
    /// Run a checkpoint with every node kept and report the first op that
    /// produces NaN or Inf, with its inputs' statistics. Exit status: 0 when
    /// every value is finite, 1 when one is not, 2 on bad input.
    FindNan(find_nan::Args),
    /// Time the kernel candidates of every matmul a checkpoint has, at one
    /// shape, on this device, and keep the fastest in the device's tuning
    /// cache (used by every later run on this device; WGRAPH_TUNE=off
    /// ignores it).
    Tune(tune::Args),
    /// Greedy generation with a LLaMA-style checkpoint and a KV cache
    /// (the same tokens as HF `generate(do_sample=False)`).
    Generate(generate::Args),
    /// One turn with a chat model (HF directory with a chat template, or
    /// GGUF file): the template applied, the answer streamed as it is
    /// generated (greedy), ending at the end-of-turn token.
    Chat(chat::Args),
    /// Serve a model over HTTP (embeddings, classification, chat) with
    /// dynamic batching, limits and Prometheus metrics.
    #[command(after_help = serve::AFTER_HELP)]
    Serve(serve::Args),
}

fn main() -> ExitCode {
    // An interrupted run leaves no temporary files behind (outputs are
    // written through them, then renamed).
    let cli = Cli::parse();
    // `serve` handles SIGTERM and Ctrl-C itself (a graceful shutdown).
    if !matches!(cli.command, Command::Serve(_)) {
        let _ = ctrlc::set_handler(|| {
            wgraph::io::remove_temporary_files();
            std::process::exit(130);
        });
    }
    let result = match cli.command {
        Command::Run(args) => run::exec(&args).map(Outcome::done),
        Command::Grad(args) => grad::exec(&args).map(Outcome::done),
        Command::Train(args) => train::exec(&args).map(Outcome::done),
        Command::Bench(args) => bench::exec(&args).map(Outcome::done),
        Command::Dump(args) => dump::exec(&args).map(Outcome::done),
        Command::CheckWeights(args) => check_weights::exec(&args).map(Outcome::done),
        Command::Inspect(args) => inspect::exec(&args).map(Outcome::done),
        Command::Tokenize(args) => tokenize::exec(&args).map(Outcome::done),
        Command::Embed(args) => embed::exec(&args).map(Outcome::done),
        Command::Classify(args) => classify::exec(&args).map(Outcome::done),
        Command::Features(args) => features::exec(&args).map(Outcome::done),
        Command::Generate(args) => generate::exec(&args).map(Outcome::done),
        Command::Chat(args) => chat::exec(&args).map(Outcome::done),
        Command::Serve(args) => serve::exec(&args).map(Outcome::done),
        Command::Tune(args) => tune::exec(&args).map(Outcome::done),
        Command::Compare(args) => compare::exec(&args).map(Outcome::answer),
        Command::Diff(args) => diff::exec(&args).map(Outcome::answer),
        Command::Check(args) => check::exec(&args).map(Outcome::answer),
        Command::CheckDevice(args) => check_device::exec(&args).map(Outcome::answer),
        Command::FindNan(args) => find_nan::exec(&args).map(Outcome::answer),
    };
    match result {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => e.report(),
    }
}

/// How a command that ran to its end exits.
enum Outcome {
    /// Exit status 0.
    Done,
    /// The commands that answer a question (did it diverge? is a value
    /// non-finite?) exit 1 for "yes".
    Found,
}

impl Outcome {
    fn done(_: ()) -> Outcome {
        Outcome::Done
    }

    fn answer(found: bool) -> Outcome {
        if found {
            Outcome::Found
        } else {
            Outcome::Done
        }
    }

    fn exit_code(self) -> ExitCode {
        match self {
            Outcome::Done => ExitCode::SUCCESS,
            Outcome::Found => ExitCode::FAILURE,
        }
    }
}

/// What every command returns.
type Result<T> = std::result::Result<T, CliError>;
