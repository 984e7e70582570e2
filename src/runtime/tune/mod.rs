//! Kernel choice by measurement on the device at hand (`WGRAPH_TUNE`,
//! `wgraph tune`): for every matmul signature a program has and the cache
//! lacks, the [`Tuner`] times the compiler's candidates on a product of
//! the run's sizes and keeps the fastest in the device's tuning cache
//! (`cache.rs`), which every later compile on this device consults. The
//! compiler's per-shape rules were measured on one CPU; another CPU of the
//! same machine kind can rank the kernels differently.

pub(crate) mod cache;
#[cfg(not(target_arch = "wasm32"))]
mod measure;
#[cfg(not(target_arch = "wasm32"))]
mod tuner;

#[cfg(not(target_arch = "wasm32"))]
pub use measure::Timing;
#[cfg(not(target_arch = "wasm32"))]
pub use tuner::{TunedMatmul, Tuner};

use super::device::Device;
use super::error::RuntimeError;
use crate::compile::{TuneMode, TuningTable};
#[cfg(not(target_arch = "wasm32"))]
use crate::{
    compile::{MatmulSignature, Program},
    graph::Op,
};
use std::path::PathBuf;

/// The tuning mode `WGRAPH_TUNE` asks for (unset: quick).
pub fn mode_from_settings(settings: &crate::Settings) -> Result<TuneMode, RuntimeError> {
    match settings.tune.as_deref() {
        None => Ok(TuneMode::default()),
        Some(v) => v.parse().map_err(|value| RuntimeError::UnknownTuneMode { value }),
    }
}

/// The measured table for `device`, from its cache file (empty when tuning
/// is off or there is no cache directory).
pub fn table_for(device: &Device) -> Result<TuningTable, RuntimeError> {
    let mode = mode_from_settings(device.settings())?;
    Ok(match (mode, cache_path(device)) {
        (TuneMode::Off, _) | (_, None) => TuningTable::default(),
        (_, Some(path)) => cache::load(&path),
    })
}

/// Where `device`'s tuning cache lives, if wgraph has a cache directory.
pub fn cache_path(device: &Device) -> Option<PathBuf> {
    device.settings().pipeline_cache.as_deref().map(|dir| cache::path(dir, device))
}

#[cfg(not(target_arch = "wasm32"))]
/// Whether `program` has a matmul whose signature `table` lacks.
pub(crate) fn lacks_any(program: &Program, table: &TuningTable) -> bool {
    program.kernels.iter().filter_map(|k| matmul_of(program, k.root)).any(|mm| {
        MatmulSignature::of(&program.ir, mm, program.weight_textures)
            .is_some_and(|sig| !table.matmul.contains_key(&sig.to_string()))
    })
}

#[cfg(not(target_arch = "wasm32"))]
/// The matmul the kernel rooted at `root` computes: the root itself, or
/// the matmul whose epilogue ends there.
fn matmul_of(program: &Program, root: crate::graph::NodeId) -> Option<crate::graph::NodeId> {
    if matches!(program.ir.node(root).op, Op::MatMul) {
        return Some(root);
    }
    program.plan.epilogue.iter().find(|(_, &r)| r == root).map(|(&mm, _)| mm)
}
