//! `wgraph dump MODEL_DIR [--format text|dot|json] [--compiled DIR]`: the
//! graph a checkpoint builds, or the program compiled from it.

use crate::progress::step;
use crate::Result;
use clap::ValueEnum;
use std::path::PathBuf;
use wgraph::graph::DumpFormat;
use wgraph::{Device, Loader, Weights};
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
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let loaded = zoo::load(&args.model_dir)?;
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
    let model = Loader::new(&device).load(&loaded.graph, &weights)?;
    bar.finish_and_clear();
    let files = wgraph::debug::write_program_dump(model.program(), dir)?;
    say!("wrote {} files to {} ({} kernels)", files.len(), dir.display(), model.program().kernels.len());
    Ok(())
}
