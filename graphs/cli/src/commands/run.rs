//! `wgraph run MODEL_DIR --inputs IN --output OUT [--dump DUMP]`: a
//! checkpoint's outputs, and every named intermediate.

use crate::args::ModelIo;
use crate::inputs::prepare_inputs;
use crate::paths::{refuse_overwriting_inputs, write_together};
use crate::progress::step;
use crate::Result;
use wgraph::weights::safetensors_bytes;
use wgraph::{CompileOptions, Device, Loader, Weights};
use wgraph_models::zoo;

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    io: ModelIo,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let ModelIo { model_dir, inputs, output, dump } = &args.io;
    refuse_overwriting_inputs(model_dir, inputs, output, dump.as_deref())?;
    let loaded = zoo::load(model_dir)?;
    let weights = Weights::from_dir(model_dir)?;
    let feed = prepare_inputs(&loaded.graph, inputs)?;
    let device = Device::new()?;
    let options =
        CompileOptions { taps: if dump.is_some() { vec!["*".into()] } else { Vec::new() }, ..Default::default() };
    let bar = step("checking weights, compiling, uploading");
    // One run: quick kernels where the driver compiles at first dispatch.
    let model = Loader::new(&device).with_options(options).load_tiered(&loaded.graph, &weights)?;
    bar.finish_and_clear();
    let (outputs, mut taps) = model.current().run_with_taps(feed)?;
    let mut files = vec![(output.as_path(), safetensors_bytes(output, &outputs, None)?)];
    if let Some(path) = dump {
        // The graph outputs belong in the dump too, under HF's output names.
        for (name, t) in outputs.iter() {
            if taps.get(name).is_none() {
                taps.0.push((name.to_string(), t.clone()));
            }
        }
        files.push((path.as_path(), wgraph::debug::dump_bytes(path, &taps)?));
    }
    // The outputs and the dump of one run land together or not at all.
    write_together(&files)?;
    eprintln!("wrote {} ({})", output.display(), outputs.names().collect::<Vec<_>>().join(", "));
    if let Some(path) = dump {
        eprintln!("wrote {} intermediates to {}", taps.len(), path.display());
    }
    Ok(())
}
