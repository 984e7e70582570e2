//! `wgraph check MODEL_DIR --inputs IN`: the GPU against the interpreter,
//! op by op.

use crate::args::{ModelInputs, Tolerances};
use crate::inputs::prepare_inputs;
use crate::progress::step;
use crate::Result;
use wgraph::{Device, Weights};
use wgraph_models::zoo;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    model: ModelInputs,
    #[command(flatten)]
    tolerances: Tolerances,
}

/// Prints the op-by-op check; returns whether a node differed.
pub(crate) fn exec(args: &Args) -> Result<bool> {
    let tolerance = args.tolerances.checked()?;
    let ModelInputs { model_dir, inputs } = &args.model;
    let loaded = zoo::load(model_dir)?;
    let weights = Weights::from_dir(model_dir)?;
    let feed = prepare_inputs(&loaded.graph, inputs)?;
    // A NaN or Inf in the inputs makes the two sides disagree wherever it
    // spreads: that is the input's doing, not a kernel's.
    for (name, t) in &feed {
        if t.dtype().is_float() {
            if let Some((i, v)) = t.to_f64_vec().iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(format!(
                    "{}: input `{name}` element {i} is {v}; `check` compares kernels on finite inputs \
                     (`wgraph find-nan` shows where non-finite values go)",
                    inputs.display()
                )
                .into());
            }
        }
    }
    let device = Device::new()?;
    let bar = step("compiling with every node kept, running GPU and interpreter");
    let report = wgraph::debug::check_against_interpreter(&device, &loaded.graph, &weights, feed, tolerance)?;
    bar.finish_and_clear();
    say!("{report}");
    Ok(report.first_mismatch.is_some())
}
