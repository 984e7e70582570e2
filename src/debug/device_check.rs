//! The device check: every case of the op table on this device against the
//! CPU interpreter, fused and unfused, and the first case whose GPU result
//! differs. It answers "are this device's numbers right?" on the device a
//! user actually has: a browser's WebGPU adapter, a new driver, another GPU.

use super::check::worst;
use super::diagnosis::Tolerance;
use super::op_table::{OpCase, CASES};
use crate::compile::CompileOptions;
use crate::interp::Interpreter;
use crate::runtime::{Device, Loader};
use crate::weights::Weights;
use std::fmt;

/// One case run that did not match (or did not run).
#[derive(Debug, Clone)]
pub struct CaseFailure {
    /// The op case (`softmax_last`).
    pub case: &'static str,
    /// The seed its inputs were drawn with.
    pub seed: u64,
    /// Whether the program was fused.
    pub fused: bool,
    /// What differed: the worst element, or the error that stopped the run.
    pub detail: String,
}

impl fmt::Display for CaseFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fusion = if self.fused { "fused" } else { "unfused" };
        write!(f, "op case `{}` (seed {}, {fusion}): {}", self.case, self.seed, self.detail)
    }
}

/// What a device check found.
#[derive(Debug, Clone)]
pub struct DeviceReport {
    /// The adapter checked.
    pub adapter: String,
    /// Case runs compared (cases x seeds x fused and unfused).
    pub runs: usize,
    /// Every run that differed or failed, in table order.
    pub failures: Vec<CaseFailure>,
}

impl fmt::Display for DeviceReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.failures.first() {
            None => write!(f, "{}: all {} op-case runs match the interpreter", self.adapter, self.runs),
            Some(first) => write!(
                f,
                "{}: {} of {} op-case runs differ from the interpreter; the first: {first}",
                self.adapter,
                self.failures.len(),
                self.runs
            ),
        }
    }
}

/// Runs every case of the op table (on `seeds`) on `device`, fused and
/// unfused, against the interpreter, within each case's tolerance.
/// `progress(case, done, total)` is called before each case.
pub async fn check_device_async(
    device: &Device,
    seeds: &[u64],
    mut progress: impl FnMut(&str, usize, usize),
) -> DeviceReport {
    let mut report = DeviceReport { adapter: device.describe(), runs: 0, failures: Vec::new() };
    for (i, case) in CASES.iter().enumerate() {
        progress(case.name, i, CASES.len());
        for &seed in seeds {
            for fused in [true, false] {
                report.runs += 1;
                if let Err(detail) = run_case(device, case, seed, fused).await {
                    report.failures.push(CaseFailure { case: case.name, seed, fused, detail });
                }
            }
        }
    }
    report
}

/// Like [`check_device_async`], blocking.
#[cfg(not(target_arch = "wasm32"))]
pub fn check_device(device: &Device, seeds: &[u64], progress: impl FnMut(&str, usize, usize)) -> DeviceReport {
    pollster::block_on(check_device_async(device, seeds, progress))
}

/// One case on one seed: `Err` says how it differed or why it did not run.
async fn run_case(device: &Device, case: &OpCase, seed: u64, fused: bool) -> Result<(), String> {
    let instance = case.instance(seed).map_err(|e| format!("building the case: {e}"))?;
    let weights = Weights::new();
    let want = Interpreter::new()
        .run(&instance.graph, &weights, instance.feed.clone())
        .map_err(|e| format!("the interpreter failed: {e}"))?;
    let options = CompileOptions { fuse: fused, settings: device.settings().clone(), ..Default::default() };
    let model = Loader::new(device)
        .with_options(options)
        .load_async(&instance.graph, &weights)
        .await
        .map_err(|e| format!("compiling failed: {e}"))?;
    let got = model.run_async(instance.feed).await.map_err(|e| format!("running failed: {e}"))?;
    let (rtol, atol) = case.tol.rtol_atol();
    for (name, reference) in want.iter() {
        let gpu = got.get(name).ok_or_else(|| format!("the GPU returned no output `{name}`"))?;
        if gpu.shape() != reference.shape() || gpu.dtype() != reference.dtype() {
            return Err(format!(
                "output `{name}` is {:?} {:?} on the GPU, {:?} {:?} on the interpreter",
                gpu.dtype(),
                gpu.shape(),
                reference.dtype(),
                reference.shape()
            ));
        }
        if let Some((max_abs, at, g, c)) = worst(gpu, reference, Tolerance { rtol, atol }) {
            return Err(format!(
                "output `{name}` differs by {max_abs:.3e} at element {at} (gpu {g}, interpreter {c}; \
                 tolerance rtol {rtol:e}, atol {atol:e})"
            ));
        }
    }
    Ok(())
}
