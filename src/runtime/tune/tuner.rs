//! The tuner: times each matmul signature's candidate kernels on the
//! device and keeps the winners in the device's tuning cache.

use super::measure::{self, Timing};
use super::{cache, cache_path, matmul_of, mode_from_settings};
use crate::compile::{
    candidates, MatmulCase, MatmulKernel, MatmulPolicy, MatmulSignature, Program, TuneMode, TuningTable,
};
use crate::graph::Bindings;
use crate::runtime::device::Device;
use crate::runtime::error::RuntimeError;
use crate::runtime::loader::LoadError;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
