//! `wgraph diff A.json B.json`: the first structural differences between
//! two graph dumps.

use crate::Result;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub(crate) struct Args {
    a: PathBuf,
    b: PathBuf,
}

/// Prints the first differences; returns whether the graphs differ.
pub(crate) fn exec(args: &Args) -> Result<bool> {
    let read = |p: &Path| -> Result<wgraph::debug::GraphDump> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        Ok(wgraph::debug::GraphDump::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?)
    };
    let (a, b) = (&args.a, &args.b);
    let (ga, gb) = (read(a)?, read(b)?);
    let found = wgraph::debug::diff_graphs(&ga, &gb);
    say!("A: {} ({} nodes)\nB: {} ({} nodes)", a.display(), ga.nodes.len(), b.display(), gb.nodes.len());
    if found.is_empty() {
        say!("no structural difference");
        return Ok(false);
    }
    say!("{} first structural differences:", found.len());
    for d in found.iter().take(10) {
        say!("{d}");
    }
    Ok(true)
}
