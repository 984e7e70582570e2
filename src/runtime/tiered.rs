//! A model that gives its first result with kernels the driver compiles
//! quickly and swaps in the tuned kernels once they are compiled.
//!
//! Why: lavapipe compiles each pipeline with LLVM at its first dispatch,
//! on its one queue thread, and a MiniLM's tuned kernels take several
//! times longer to compile there than the quick tier's
//! (`KernelTier::Quick`; BENCHMARKS.md, "Cold start and warm start"). The
//! tuned kernels are compiled by a second device, in a background thread
//! on the other core: its own Vulkan instance, so its own lavapipe screen
//! and queue thread. The compiled code reaches the serving device through
//! Mesa's shader cache: the helper dispatches every tuned kernel once
//! (`Model::warm_up`) and is dropped, which finishes the cache's writes;
//! the serving device's tuned model then finds each kernel in the cache at
//! its first dispatch. A marker file (see `driver_compiled`) lets the next
//! process start on the tuned kernels directly.
//!
//! Where tiers do not pay, one model serves from the start: drivers that
//! compile when the pipeline is created (GPU drivers), Mesa's cache
//! switched off (the helper's work could not be handed over), a marker
//! saying the driver already holds the tuned kernels, weights too large to
//! hold three times until the swap, weights shared with another model,
//! `WGRAPH_TIER`, or two tiers that generate the same kernels.

use super::device::Device;
use super::driver_compiled;
use super::error::RuntimeError;
use super::loader::{LoadError, Loader};
use super::model::{static_bytes, Model};
use crate::compile::{KernelTier, Program};
use crate::graph::{Bindings, NamedTensors, Tensor};
use crate::settings::level;
use crate::weights::Weights;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Which tiers a model gets on this device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TierPlan {
    /// One tier from the start.
    Only(KernelTier),
    /// Quick kernels first, tuned ones compiled in the background.
    QuickThenTuned,
}

impl TierPlan {
    /// The plan for `device`, given whether the driver's cache already
    /// holds the tuned kernels (`marked`) and whether memory holds the
    /// extra copies of the weights a background compile needs (`fits`).
    pub(crate) fn for_device(device: &Device, marked: bool, fits: bool) -> Result<TierPlan, RuntimeError> {
        let settings = device.settings();
        match settings.tier.as_deref().map(|t| t.trim().to_ascii_lowercase()).as_deref() {
            Some("tuned") => return Ok(TierPlan::Only(KernelTier::Tuned)),
            Some("quick") => return Ok(TierPlan::Only(KernelTier::Quick)),
            Some(other) => return Err(RuntimeError::UnknownTier { value: other.to_string() }),
            None => {}
        }
        let tiers_pay = device.compiles_at_first_dispatch() && !settings.driver_cache_disabled && !marked && fits;
        Ok(if tiers_pay { TierPlan::QuickThenTuned } else { TierPlan::Only(KernelTier::Tuned) })
    }
}

/// What the background compile hands back, once.
#[derive(Default)]
struct Background {
    result: Option<Result<Model, String>>,
    finished: bool,
}

/// The model serving runs now.
struct Serving {
    model: Arc<Model>,
    tier: KernelTier,
    /// Why the tuned kernels are not coming, if they failed.
    failed: Option<String>,
}

/// A compiled model with two kernel tiers (see the module docs): `run`
/// uses the quick kernels until the tuned ones are ready, then the tuned
/// ones. Results agree between tiers to float rounding (same math,
/// another summation order).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use wgraph::{ops, Loader, DType, Device, Dim, Graph, KernelTier, Tensor, Weights};
/// let g = Graph::new("linear");
/// let x = g.input("x", DType::F32, [Dim::sym("batch"), Dim::new(4)]);
/// let w = g.weight("w", DType::F32, [4usize, 4]);
/// g.output_named([("y", ops::matmul(&x, &w))])?;
/// let weights = Weights::from_tensors([("w", Tensor::new([4, 4], (0..16).map(|i| i as f32).collect())?)]);
/// let device = Device::new()?;
/// let model = Loader::new(&device).load_tiered(&g, &weights)?;
/// let x = Tensor::new([1, 4], vec![1.0f32, 0.0, 0.0, 0.0])?;
/// assert_eq!(model.run([("x", x.clone())])?.get("y").unwrap().to_f32_vec(), [0.0, 1.0, 2.0, 3.0]);
/// // Block until the tuned kernels serve (at once where there is one tier).
/// let tuned = model.wait_tuned()?;
/// assert_eq!(model.tier(), KernelTier::Tuned);
/// assert_eq!(tuned.run([("x", x)])?.get("y").unwrap().to_f32_vec(), [0.0, 1.0, 2.0, 3.0]);
/// # Ok(()) }
/// ```
pub struct TieredModel {
    serving: Mutex<Serving>,
    background: Arc<(Mutex<Background>, Condvar)>,
    /// Set when the model is dropped: the background stops between two
    /// kernels and builds no tuned model nobody would run.
    cancelled: Arc<AtomicBool>,
    /// The background thread, joined when the model is dropped: a process
    /// that exits while LLVM compiles in another thread can crash in
    /// Mesa's and LLVM's exit handlers (a CLI run exited on a signal after
    /// writing its output).
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl TieredModel {
    /// One model for every run.
    pub(crate) fn single(model: Model, tier: KernelTier) -> TieredModel {
        let background = Background { result: None, finished: true };
        TieredModel {
            serving: Mutex::new(Serving { model: Arc::new(model), tier, failed: None }),
            background: Arc::new((Mutex::new(background), Condvar::new())),
            cancelled: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
        }
    }

    /// Serves `quick` while a background thread compiles `tuned` (see the
    /// module docs) and marks it compiled at `marker`.
    pub(crate) fn quick_then_tuned(
        quick: Model,
        tuned: Program,
        weights: Weights,
        weight_bindings: Bindings,
        marker: Option<PathBuf>,
    ) -> TieredModel {
        let device = quick.device().clone();
        let model = TieredModel {
            serving: Mutex::new(Serving { model: Arc::new(quick), tier: KernelTier::Quick, failed: None }),
            background: Arc::new((Mutex::new(Background::default()), Condvar::new())),
            cancelled: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
        };
        let (background, cancelled) = (model.background.clone(), model.cancelled.clone());
        let job = TunedJob { device, program: tuned, weights, weight_bindings, marker, cancelled };
        let spawned = std::thread::Builder::new().name("wgraph-tuned-kernels".into()).spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run()))
                .unwrap_or_else(|_| Err("the background compile panicked".to_string()));
            let (lock, ready) = &*background;
            let mut slot = lock.lock().unwrap_or_else(|p| p.into_inner());
            *slot = Background { result: Some(result), finished: true };
            ready.notify_all();
        });
        match spawned {
            Ok(handle) => *model.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle),
            Err(e) => {
                // No thread: the quick tier serves for good.
                let (lock, _) = &*model.background;
                let mut slot = lock.lock().unwrap_or_else(|p| p.into_inner());
                *slot = Background { result: Some(Err(format!("cannot start a thread: {e}"))), finished: true };
            }
        }
        model
    }

    /// Runs on `inputs` with the model serving now (see [`Model::run`]).
    pub fn run<S: Into<String>>(
        &self,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<NamedTensors, RuntimeError> {
        self.current().run(inputs)
    }

    /// The model serving now: the tuned one as soon as it is ready.
    pub fn current(&self) -> Arc<Model> {
        self.collect(false);
        self.serving().model.clone()
    }

    /// The tier serving now.
    pub fn tier(&self) -> KernelTier {
        self.collect(false);
        self.serving().tier
    }

    /// Waits until the tuned kernels serve and returns their model (with
    /// `WGRAPH_TIER=quick`, the quick one at once); the background's error
    /// if they failed (the quick model keeps serving).
    pub fn wait_tuned(&self) -> Result<Arc<Model>, RuntimeError> {
        self.collect(true);
        let serving = self.serving();
        match &serving.failed {
            Some(detail) => Err(RuntimeError::BackgroundCompile { detail: detail.clone() }),
            None => Ok(serving.model.clone()),
        }
    }

    fn serving(&self) -> MutexGuard<'_, Serving> {
        self.serving.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Installs the background's result if it has one (waiting for it when
    /// `block`).
    fn collect(&self, block: bool) {
        let (lock, ready) = &*self.background;
        let mut slot = lock.lock().unwrap_or_else(|p| p.into_inner());
        while block && !slot.finished {
            slot = ready.wait(slot).unwrap_or_else(|p| p.into_inner());
        }
        let Some(result) = slot.result.take() else { return };
        let mut serving = self.serving();
        match result {
            Ok(tuned) => {
                if tuned.device().settings().shows(level::PASSES) {
                    eprintln!("wgraph: the tuned kernels serve from here on");
                }
                *serving = Serving { model: Arc::new(tuned), tier: KernelTier::Tuned, failed: None };
            }
            Err(detail) => {
                tracing::warn!(%detail, "the tuned kernels failed to compile; the quick ones keep serving");
                serving.failed = Some(detail);
            }
        }
    }
}

impl Drop for TieredModel {
    /// Stops the background between two kernels and waits for it: at most
    /// one kernel's compile (seconds on lavapipe for the largest).
    fn drop(&mut self) {
        self.cancelled.store(true, Ordering::Relaxed);
        if let Some(handle) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

/// The background's work: compile the tuned kernels on a helper device,
/// then build the tuned model on the serving device.
struct TunedJob {
    device: Device,
    program: Program,
    weights: Weights,
    weight_bindings: Bindings,
    marker: Option<PathBuf>,
    cancelled: Arc<AtomicBool>,
}

impl TunedJob {
    fn run(self) -> Result<Model, String> {
        let show = self.device.settings().shows(level::PASSES);
        let start = Instant::now();
        {
            // The helper writes no wgpu pipeline cache of its own: the
            // serving device's is the one that matters.
            let mut settings = self.device.settings().clone();
            settings.pipeline_cache = None;
            let helper = Device::with_settings(settings).map_err(|e| e.to_string())?;
            let model = Model::new(&helper, self.program.clone(), &self.weights, self.weight_bindings.clone())
                .map_err(|e| e.to_string())?;
            model.warm_up_until(|| self.cancelled.load(Ordering::Relaxed)).map_err(|e| e.to_string())?;
            // Dropping the helper (its own Vulkan instance) finishes Mesa's
            // pending cache writes.
        }
        if show {
            eprintln!("wgraph: {:<24} {:>9.3} ms", "tuned-kernels-compiled", start.elapsed().as_secs_f64() * 1e3);
        }
        if self.cancelled.load(Ordering::Relaxed) {
            // Not every kernel was compiled: no marker.
            return Err("the model was dropped".into());
        }
        if let Some(marker) = &self.marker {
            driver_compiled::mark(marker);
        }
        let tuned =
            Model::new(&self.device, self.program, &self.weights, self.weight_bindings).map_err(|e| e.to_string())?;
        Ok(tuned)
    }
}

impl Loader<'_> {
    /// Like [`Loader::load`], with kernel tiers where they shorten
    /// the first result (see [`TieredModel`]): on a driver that compiles
    /// at first dispatch, the first runs use quick-to-compile kernels while
    /// the tuned ones compile in the background. Elsewhere it is one model,
    /// the same as `compile` gives. `WGRAPH_TIER=tuned|quick` fixes one tier.
    pub fn load_tiered(&self, graph: &crate::graph::Graph, weights: &Weights) -> Result<TieredModel, LoadError> {
        let ir = graph.ir()?.clone();
        self.load_ir_tiered(&ir, weights)
    }

    /// Like [`Loader::load_tiered`], for an IR.
    pub fn load_ir_tiered(&self, ir: &crate::graph::Ir, weights: &Weights) -> Result<TieredModel, LoadError> {
        let device = self.device();
        let (tuned, bindings) = self.program_for(ir, weights, KernelTier::Tuned)?;
        let marker = device
            .settings()
            .pipeline_cache
            .as_deref()
            .map(|dir| driver_compiled::marker_path(dir, device.info(), &tuned));
        let marked = marker.as_deref().is_some_and(driver_compiled::is_marked);
        // Until the swap, the weights live three times: the quick model's,
        // the helper device's and the tuned model's.
        let fits = device.memory_available().is_none_or(|a| static_bytes(&tuned, &bindings).saturating_mul(3) <= a);
        // A model reading another's weight buffers (`sharing_weights_with`)
        // must keep reading them: the background builds its own copies.
        let plan = if self.shares_weights() {
            TierPlan::Only(KernelTier::Tuned)
        } else {
            TierPlan::for_device(device, marked, fits)?
        };
        if device.settings().shows(level::PASSES) {
            eprintln!("wgraph: kernel tiers: {plan:?}");
        }
        let only = |program: Program, tier| -> Result<TieredModel, LoadError> {
            Ok(TieredModel::single(self.model_for(program, weights, bindings.clone())?, tier))
        };
        match plan {
            TierPlan::Only(KernelTier::Tuned) => only(tuned, KernelTier::Tuned),
            TierPlan::Only(KernelTier::Quick) => {
                let (quick, _) = self.program_for(ir, weights, KernelTier::Quick)?;
                only(quick, KernelTier::Quick)
            }
            TierPlan::QuickThenTuned => {
                let (quick, _) = self.program_for(ir, weights, KernelTier::Quick)?;
                if same_kernels(&quick, &tuned) {
                    return only(tuned, KernelTier::Tuned);
                }
                let quick = self.model_for(quick, weights, bindings.clone())?;
                Ok(TieredModel::quick_then_tuned(quick, tuned, weights.clone(), bindings, marker))
            }
        }
    }
}

/// Whether two programs generate the same kernel sources.
fn same_kernels(a: &Program, b: &Program) -> bool {
    fn variant(k: &crate::compile::KernelSpec) -> Option<&str> {
        k.few_rows.as_ref().map(|v| v.wgsl.as_str())
    }
    a.kernels.len() == b.kernels.len()
        && a.kernels.iter().zip(&b.kernels).all(|(x, y)| x.wgsl == y.wgsl && variant(x) == variant(y))
}
