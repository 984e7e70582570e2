//! The saved training state: parameters and optimizer state as a
//! safetensors file, the step count in its metadata.

use super::error::TrainError;
use crate::graph::{NamedTensors, Tensor};
use crate::weights::{save_safetensors, Weights};
use std::collections::HashMap;
use std::path::Path;

/// The metadata key holding the number of steps taken.
const STEP_KEY: &str = "wgraph.step";

/// Writes `tensors` and `step` to `path`, atomically.
pub(super) fn write(path: &Path, tensors: &NamedTensors, step: u64) -> Result<(), TrainError> {
    let metadata = HashMap::from([(STEP_KEY.to_string(), step.to_string())]);
    save_safetensors(path, tensors, Some(metadata))?;
    Ok(())
}

/// Reads what [`write`] wrote.
pub(super) fn read(path: &Path) -> Result<(Vec<(String, Tensor)>, u64), TrainError> {
    let bad = |detail: String| TrainError::State { path: path.display().to_string(), detail };
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).map_err(|e| bad(e.to_string()))?;
    let step = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(STEP_KEY))
        .ok_or_else(|| bad(format!("no `{STEP_KEY}` in the metadata: not a file written by Trainer::save_state")))?
        .parse::<u64>()
        .map_err(|e| bad(format!("`{STEP_KEY}` is not a step count: {e}")))?;
    let weights = Weights::open([path])?;
    let mut tensors = Vec::new();
    for name in weights.names().map(str::to_string).collect::<Vec<_>>() {
        let t = weights.read(&name)?;
        tensors.push((name, t));
    }
    Ok((tensors, step))
}
