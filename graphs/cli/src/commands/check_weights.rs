//! `wgraph check-weights MODEL_DIR`: every weight the graph needs against
//! the checkpoint, in one report.

use crate::Result;
use std::path::PathBuf;
use wgraph::Weights;
use wgraph_models::zoo;

#[derive(clap::Args)]
pub(crate) struct Args {
    model_dir: PathBuf,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let loaded = zoo::load(&args.model_dir)?;
    let checked = loaded.graph.check_weights(&Weights::from_dir(&args.model_dir)?)?;
    let count = loaded.graph.ir().map(|ir| ir.weights().len()).unwrap_or(0);
    say!("all {count} weights of `{}` are present with the right shapes and dtypes", loaded.graph.name());
    say_raw!("{checked}");
    Ok(())
}
