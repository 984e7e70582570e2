//! `wgraph compare OURS REFERENCE`: two dumps of intermediates tensor by
//! tensor, and the first divergence.

use crate::args::Tolerances;
use crate::Result;
use std::path::PathBuf;
use wgraph_cli::plot;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Ours: `wgraph run --dump` or `wgraph grad --dump`.
    ours: PathBuf,
    /// The reference: tools/torch_dump.py.
    reference: PathBuf,
    #[command(flatten)]
    tolerances: Tolerances,
    /// Also draw max |ours - reference| per tensor along the execution
    /// order (log scale, first divergence marked) to this .png or .svg.
    #[arg(long)]
    plot: Option<PathBuf>,
}

/// Prints the comparison; returns whether something diverged.
pub(crate) fn exec(args: &Args) -> Result<bool> {
    let tolerance = args.tolerances.checked()?;
    if let Some(path) = &args.plot {
        plot::divergence_format(path)?;
    }
    let (a, b) = (wgraph::debug::read_dump(&args.ours)?, wgraph::debug::read_dump(&args.reference)?);
    let result = wgraph::debug::compare(&a, &b, tolerance);
    if result.rows.is_empty() {
        return Err(
            format!("{} and {} have no tensor names in common", args.ours.display(), args.reference.display()).into()
        );
    }
    say!("{result}");
    if let Some(path) = &args.plot {
        plot::divergence(path, &result)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(result.diverged())
}
