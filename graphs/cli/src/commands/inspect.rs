//! `wgraph inspect FILE.safetensors`: a file's tensors and metadata.

use crate::Result;
use std::path::PathBuf;
use wgraph::Weights;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A safetensors file.
    file: PathBuf,
}

pub(crate) fn exec(args: &Args) -> Result<()> {
    let file = &args.file;
    let (names, metadata) = wgraph::debug::dump_names(file)?;
    let weights = Weights::open([file])?;
    // Tensors in the file's order (a dump's is the execution order).
    let tensors: Vec<_> = names.iter().filter_map(|n| weights.info(n).map(|i| (n, i))).collect();
    let total: usize = tensors.iter().map(|(_, i)| i.shape.iter().product::<usize>()).sum();
    say!("{}: {} tensors, {total} elements", file.display(), tensors.len());
    for (name, info) in &tensors {
        say!("  {name:<60} {:<5} {:?}", info.file_dtype, info.shape);
    }
    if !metadata.is_empty() {
        let mut m: Vec<_> = metadata.iter().collect();
        m.sort();
        say!("metadata:");
        for (k, v) in m {
            say!("  {k} = {v}");
        }
    }
    Ok(())
}
