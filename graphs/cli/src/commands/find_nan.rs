//! `wgraph find-nan MODEL_DIR --inputs IN`: the first op producing NaN or Inf.

use crate::args::ModelInputs;
use crate::inputs::prepare_inputs;
use crate::progress::step;
use crate::Result;
use wgraph::{Device, Weights};
use wgraph_models::zoo;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    model: ModelInputs,
}

/// Prints the first non-finite op; returns whether there was one.
pub(crate) fn exec(args: &Args) -> Result<bool> {
    let ModelInputs { model_dir, inputs } = &args.model;
    let loaded = zoo::load(model_dir)?;
    let weights = Weights::from_dir(model_dir)?;
    let feed = prepare_inputs(&loaded.graph, inputs)?;
    let device = Device::new()?;
    let bar = step("compiling with every node kept and running");
    let found = wgraph::debug::find_non_finite(&device, &loaded.graph, &weights, feed)?;
    bar.finish_and_clear();
    match found {
        Some(report) => {
            say_raw!("{report}");
            Ok(true)
        }
        None => {
            say!("every value is finite");
            Ok(false)
        }
    }
}
