//! `inspect`, `compare` and `check`: reading dumps and comparing numbers.

use crate::Result;
use std::collections::HashMap;
use std::path::Path;
use wgraph::graph::NamedTensors;
use wgraph::{Device, Weights};
use wgraph_graphs::zoo;

use crate::inputs::prepare_inputs;
use crate::step;

pub(crate) fn inspect(file: &Path) -> Result<()> {
    let (tensors, meta) = listing(file)?;
    let total: usize = tensors.iter().map(|(_, _, s)| s.iter().product::<usize>()).sum();
    say!("{}: {} tensors, {total} elements", file.display(), tensors.len());
    for (name, dtype, shape) in &tensors {
        say!("  {name:<60} {dtype:<5} {shape:?}");
    }
    if let Some(m) = meta {
        let mut m: Vec<_> = m.iter().collect();
        m.sort();
        say!("metadata:");
        for (k, v) in m {
            say!("  {k} = {v}");
        }
    }
    Ok(())
}

/// Reads a dump in execution order (its `execution_order` metadata), else
/// in file order.
pub(crate) fn read_dump(path: &Path) -> Result<NamedTensors> {
    let (names, _) = listing(path)?;
    let w = Weights::open([path])?;
    let tensors = names.into_iter().map(|(n, _, _)| Ok((n.clone(), w.read(&n)?))).collect::<Result<Vec<_>>>()?;
    Ok(NamedTensors(tensors))
}

/// Prints the comparison; returns whether something diverged.
pub(crate) fn compare(ours: &Path, reference: &Path, rtol: f64, atol: f64) -> Result<bool> {
    let (a, b) = (read_dump(ours)?, read_dump(reference)?);
    let result = wgraph::debug::compare(&a, &b, wgraph::debug::Tolerance { rtol, atol });
    if result.rows.is_empty() {
        return Err(format!("{} and {} have no tensor names in common", ours.display(), reference.display()).into());
    }
    say!("{result}");
    Ok(result.diverged())
}

/// Prints the op-by-op check; returns whether a node differed.
pub(crate) fn check(model_dir: &Path, inputs: &Path, rtol: f64, atol: f64) -> Result<bool> {
    let loaded = zoo::load(model_dir)?;
    let weights = Weights::from_dir(model_dir)?;
    let feed = prepare_inputs(&loaded.graph, inputs)?;
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

/// A safetensors file's tensors (name, dtype, shape) in execution order —
/// the `execution_order` metadata `--dump` files carry — else in file
/// order, plus the file's metadata.
#[allow(clippy::type_complexity)]
pub(crate) fn listing(path: &Path) -> Result<(Vec<(String, String, Vec<usize>)>, Option<HashMap<String, String>>)> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
        .map_err(|e| format!("{} is not a safetensors file: {e}", path.display()))?;
    let order: Vec<String> = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("execution_order"))
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or_default();
    let rank = |name: &str, offset: usize| order.iter().position(|o| o == name).unwrap_or(order.len() + offset);
    let mut tensors: Vec<(usize, String, String, Vec<usize>)> = meta
        .tensors()
        .into_iter()
        .map(|(n, i)| (rank(&n, i.data_offsets.0), n, format!("{:?}", i.dtype), i.shape.clone()))
        .collect();
    tensors.sort();
    Ok((tensors.into_iter().map(|(_, n, d, s)| (n, d, s)).collect(), meta.metadata().clone()))
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
