//! `wgraph dump MODEL_DIR [--format text|dot|json] [--compiled DIR]
//! [--decode-step]`: the graph a checkpoint builds, or the program compiled
//! from it; for decoders, optionally the one-token step `wgraph generate`
//! runs after the prompt.

use crate::error::bad;
use crate::progress::step;
use crate::Result;
use clap::ValueEnum;
use std::path::PathBuf;
use wgraph::graph::DumpFormat;
use wgraph::{Device, Loader, Weights};
use wgraph_models::generate::{Generator, DEFAULT_CACHE_CAPACITY};
use wgraph_models::llama::{self, LlamaConfig, LlamaGraph};
use wgraph_models::zoo;

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Text,
    Dot,
    Json,
}

#[derive(clap::Args)]
pub(crate) struct Args {
    model_dir: PathBuf,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Instead, compile for this machine's adapter and write the compiled
    /// program to this directory: graph.txt, graph.dot (each kernel a
    /// cluster), schedule.txt, memory.txt, kernels/*.wgsl.
    #[arg(long, value_name = "DIR", conflicts_with = "format")]
    compiled: Option<PathBuf>,
    /// For decoders (model_type `llama`): the one-token decode step that
    /// generation runs after the prompt (KV cache on the device) instead of
    /// the whole-sequence forward.
    #[arg(long)]
    decode_step: bool,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let mut loaded = zoo::load(&args.model_dir)?;
    if args.decode_step {
        let model_type = loaded.config.model_type()?;
        if model_type != "llama" {
            return Err(bad(format!("--decode-step needs a decoder (model_type `llama`), not `{model_type}`")));
        }
    }
    if args.decode_step && args.compiled.is_none() {
        let cfg = LlamaConfig::from_hf(&loaded.config)?;
        let capacity = cfg.max_position_embeddings.min(DEFAULT_CACHE_CAPACITY);
        loaded.graph = llama::build(&cfg, LlamaGraph::Cached { seq: Some(1), capacity })?;
    }
    let Some(dir) = &args.compiled else {
        let format = match args.format {
            Format::Text => DumpFormat::Text,
            Format::Dot => DumpFormat::Dot,
            Format::Json => DumpFormat::Json,
        };
        say_raw!("{}", loaded.graph.dump_as(format));
        return Ok(());
    };
    let weights = Weights::from_dir(&args.model_dir)?;
    let device = Device::new()?;
    let bar = step("checking weights and compiling");
    let (model, generator);
    let program = if args.decode_step {
        let cfg = LlamaConfig::from_hf(&loaded.config)?;
        // The cache `wgraph generate` would hold for a one-token prompt.
        generator = Generator::for_one_generation(cfg, weights, &device, 1, 1)?;
        generator.decode_model().program()
    } else {
        model = Loader::new(&device).load(&loaded.graph, &weights)?;
        model.program()
    };
    bar.finish_and_clear();
    let files = wgraph::debug::write_program_dump(program, dir)?;
    say!("wrote {} files to {} ({} kernels)", files.len(), dir.display(), program.kernels.len());
    Ok(())
}
