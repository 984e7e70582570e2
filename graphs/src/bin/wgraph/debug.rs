//! `inspect`, `compare` and `check`: reading dumps and comparing numbers.

use crate::Result;
use std::collections::HashMap;
use std::path::Path;
use wgraph::{Device, Weights};
use wgraph_graphs::zoo;

use crate::inputs::prepare_inputs;
use crate::step;

/// Tolerances are finite and non-negative: `--rtol NaN` would make every
/// comparison fail (and look like a divergence) instead of being refused.
fn check_tolerances(rtol: f64, atol: f64) -> Result<()> {
    for (flag, v) in [("--rtol", rtol), ("--atol", atol)] {
        if !v.is_finite() || v < 0.0 {
            return Err(format!("{flag} {v}: a tolerance must be a finite number >= 0 (for example 1e-3)").into());
        }
    }
    Ok(())
}

pub(crate) fn inspect(file: &Path) -> Result<()> {
    let (tensors, meta) = listing(file)?;
    let total: usize = tensors.iter().map(|(_, _, s)| s.iter().product::<usize>()).sum();
    say!("{}: {} tensors, {total} elements", file.display(), tensors.len());
    for (name, dtype, shape) in &tensors {
        say!("  {name:<60} {dtype:<5} {shape:?}");
    }
    if !meta.is_empty() {
        let mut m: Vec<_> = meta.iter().collect();
        m.sort();
        say!("metadata:");
        for (k, v) in m {
            say!("  {k} = {v}");
        }
    }
    Ok(())
}

/// Prints the comparison; returns whether something diverged.
pub(crate) fn compare(ours: &Path, reference: &Path, rtol: f64, atol: f64, plot: Option<&Path>) -> Result<bool> {
    check_tolerances(rtol, atol)?;
    if let Some(path) = plot {
        crate::plot::format_of(path)?;
    }
    let (a, b) = (wgraph::debug::read_dump(ours)?, wgraph::debug::read_dump(reference)?);
    let result = wgraph::debug::compare(&a, &b, wgraph::debug::Tolerance { rtol, atol });
    if result.rows.is_empty() {
        return Err(format!("{} and {} have no tensor names in common", ours.display(), reference.display()).into());
    }
    say!("{result}");
    if let Some(path) = plot {
        crate::plot::plot(path, &result)?;
        eprintln!("wrote {}", path.display());
    }
    Ok(result.diverged())
}

/// Prints the op-by-op check; returns whether a node differed.
pub(crate) fn check(model_dir: &Path, inputs: &Path, rtol: f64, atol: f64) -> Result<bool> {
    check_tolerances(rtol, atol)?;
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
    let report = wgraph::debug::check_against_interpreter(
        &device,
        &loaded.graph,
        &weights,
        feed,
        wgraph::debug::Tolerance { rtol, atol },
    )?;
    bar.finish_and_clear();
    say!("{report}");
    Ok(report.first_mismatch.is_some())
}

/// A dump's tensors (name, dtype, shape) in execution order, and its metadata.
#[allow(clippy::type_complexity)]
pub(crate) fn listing(path: &Path) -> Result<(Vec<(String, String, Vec<usize>)>, HashMap<String, String>)> {
    let (names, metadata) = wgraph::debug::dump_names(path)?;
    let weights = Weights::open([path])?;
    let tensors = names
        .into_iter()
        .filter_map(|n| weights.info(&n).map(|i| (n.clone(), i.file_dtype.clone(), i.shape.clone())))
        .collect();
    Ok((tensors, metadata))
}

/// Prints the first non-finite op; returns whether there was one.
pub(crate) fn find_nan(model_dir: &Path, inputs: &Path) -> Result<bool> {
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

/// `wgraph diff A.json B.json`: whether the graphs differ, after printing
/// the first differences.
pub(crate) fn diff(a: &Path, b: &Path) -> Result<bool> {
    let read = |p: &Path| -> Result<wgraph::debug::GraphDump> {
        let text = std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?;
        Ok(wgraph::debug::GraphDump::parse(&text).map_err(|e| format!("{}: {e}", p.display()))?)
    };
    let (ga, gb) = (read(a)?, read(b)?);
    let found = wgraph::debug::diff_graphs(&ga, &gb);
    println!("A: {} ({} nodes)\nB: {} ({} nodes)", a.display(), ga.nodes.len(), b.display(), gb.nodes.len());
    if found.is_empty() {
        println!("no structural difference");
        return Ok(false);
    }
    println!("{} first structural differences:", found.len());
    for d in found.iter().take(10) {
        println!("{d}");
    }
    Ok(true)
}
