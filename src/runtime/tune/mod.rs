//! Kernel choice by measurement on the device at hand (`WGRAPH_TUNE`,
//! `wgraph tune`): for every matmul signature a program has and the cache
//! lacks, the [`Tuner`] times the compiler's candidates on a product of
//! the run's sizes and keeps the fastest in the device's tuning cache
//! (`cache.rs`), which every later compile on this device consults. The
//! compiler's per-shape rules were measured on one CPU; another CPU of the
//! same machine kind can rank the kernels differently.

pub(crate) mod cache;
mod measure;

pub use measure::Timing;

use super::device::Device;
use super::error::RuntimeError;
use super::loader::LoadError;
use crate::compile::{
    candidates, MatmulCase, MatmulKernel, MatmulPolicy, MatmulSignature, Program, TuneMode, TuningTable,
};
use crate::graph::{Bindings, Op};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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

/// One matmul signature of a program, tuned or found in the cache.
#[derive(Debug, Clone)]
pub struct TunedMatmul {
    /// The kernel's name in the program (`%12:matmul+add`).
    pub kernel_name: String,
    /// The case timed (the signature and the run's sizes).
    pub case: MatmulCase,
    /// Every candidate's time, fastest first (empty when cached).
    pub timings: Vec<Timing>,
    /// The kernel the table now holds.
    pub chosen: MatmulKernel,
    /// The compiler's own rule's kernel.
    pub rule: MatmulKernel,
}

/// Times kernel candidates on one device and keeps the winners.
pub struct Tuner<'d> {
    device: &'d Device,
    mode: TuneMode,
    table: TuningTable,
    path: Option<PathBuf>,
    /// Set from elsewhere to stop between two candidates.
    stop: Option<Arc<AtomicBool>>,
}

impl<'d> Tuner<'d> {
    /// A tuner in the mode `WGRAPH_TUNE` gives, starting from the device's
    /// cache.
    pub fn new(device: &'d Device) -> Result<Tuner<'d>, RuntimeError> {
        let mode = mode_from_settings(device.settings())?;
        Ok(Tuner::with_mode(device, mode))
    }

    /// A tuner in `mode` (`Off`: it measures nothing).
    pub fn with_mode(device: &'d Device, mode: TuneMode) -> Tuner<'d> {
        Tuner::with_cache(device, mode, cache_path(device))
    }

    /// A tuner whose table lives at `path` (a helper device has no cache
    /// directory of its own: it tunes for the device it stands in for).
    pub(crate) fn with_cache(device: &'d Device, mode: TuneMode, path: Option<PathBuf>) -> Tuner<'d> {
        let table = path.as_deref().map(cache::load).unwrap_or_default();
        Tuner { device, mode, table, path, stop: None }
    }

    /// Stops tuning between two candidates once `flag` is set (what is
    /// measured so far is kept; a signature half measured is not).
    pub fn stop_when(mut self, flag: Arc<AtomicBool>) -> Tuner<'d> {
        self.stop = Some(flag);
        self
    }

    /// The table so far.
    pub fn table(&self) -> &TuningTable {
        &self.table
    }

    /// The cache file, if there is a cache directory.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.path.as_deref()
    }

    /// Tunes every matmul signature of `program` the table lacks, at the
    /// sizes `bindings` give, calling `each` as each is done; returns them
    /// all (cached ones with no timings). `force` re-measures cached ones.
    pub fn tune_program(
        &mut self,
        program: &Program,
        bindings: &Bindings,
        force: bool,
        mut each: impl FnMut(&TunedMatmul),
    ) -> Result<Vec<TunedMatmul>, LoadError> {
        let target = self.device.target();
        let policy = MatmulPolicy::for_target(&target, self.device.settings().matmul.as_deref(), 0)?;
        let ir = &program.ir;
        let textures = program.weight_textures;
        let mut done: Vec<TunedMatmul> = Vec::new();
        for kernel in &program.kernels {
            let Some(mm) = matmul_of(program, kernel.root) else { continue };
            let Some(case) = MatmulSignature::case(ir, mm, textures, bindings) else { continue };
            let key = case.signature.to_string();
            if done.iter().any(|d| d.case.signature == case.signature) {
                continue;
            }
            let rule = policy.pick(ir, mm);
            let cached = self.table.matmul.get(&key).copied();
            let (timings, chosen) = match cached {
                Some(k) if !force => (Vec::new(), k),
                _ if self.mode == TuneMode::Off => (Vec::new(), rule),
                _ => {
                    let rounds = if self.mode == TuneMode::Full { 5 } else { 3 };
                    let list = candidates(&target, &case, rule, self.mode);
                    let stop = || self.stop.as_ref().is_some_and(|f| f.load(Ordering::Relaxed));
                    let Some(mut timings) = measure::time_candidates(self.device, &case, &list, rounds, &stop)? else {
                        return Ok(done);
                    };
                    timings.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
                    let chosen = measure::choose(&timings).unwrap_or(rule);
                    self.table.matmul.insert(key, chosen);
                    (timings, chosen)
                }
            };
            let tuned = TunedMatmul { kernel_name: kernel.name.clone(), case, timings, chosen, rule };
            each(&tuned);
            done.push(tuned);
        }
        Ok(done)
    }

    /// Writes the table to the device's cache file (nothing without a
    /// cache directory); returns the path written.
    pub fn save(&self) -> std::io::Result<Option<PathBuf>> {
        let Some(path) = &self.path else { return Ok(None) };
        cache::save(path, self.device, &self.table)?;
        Ok(Some(path.clone()))
    }
}

/// Whether `program` has a matmul whose signature `table` lacks.
pub(crate) fn lacks_any(program: &Program, table: &TuningTable) -> bool {
    program.kernels.iter().filter_map(|k| matmul_of(program, k.root)).any(|mm| {
        MatmulSignature::of(&program.ir, mm, program.weight_textures)
            .is_some_and(|sig| !table.matmul.contains_key(&sig.to_string()))
    })
}

/// The matmul the kernel rooted at `root` computes: the root itself, or
/// the matmul whose epilogue ends there.
fn matmul_of(program: &Program, root: crate::graph::NodeId) -> Option<crate::graph::NodeId> {
    if matches!(program.ir.node(root).op, Op::MatMul) {
        return Some(root);
    }
    program.plan.epilogue.iter().find(|(_, &r)| r == root).map(|(&mm, _)| mm)
}
