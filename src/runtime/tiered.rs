//! A model that gives its first result with kernels the driver compiles
//! quickly and swaps in the tuned kernels once they are compiled.
//!
//! Why: lavapipe compiles each pipeline with LLVM at its first dispatch,
//! on its one queue thread, and a MiniLM's tuned kernels take several
//! times longer to compile there than the quick tier's
//! (`KernelTier::Quick`; BENCHMARKS.md, "Cold start and warm start"). The
//! tuned kernels are compiled by a second device, in a background thread
//! on the other core once the first result is out (`StartGate`): its own Vulkan instance, so its own lavapipe screen
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
use super::tier_sync::{FirstSizes, StartGate};
use super::tune::{self, Tuner};
use crate::compile::{compile, CompileOptions, KernelTier, Program, TuneMode};
use crate::graph::{bind_inputs, Bindings, Ir, NamedTensors, Tensor};
use crate::settings::level;
use crate::weights::Weights;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use web_time::Instant;

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
    /// The sizes of the first run, for a background that tunes at them.
    first_sizes: Option<Arc<FirstSizes>>,
    /// Opened once the first result is out (see `StartGate`).
    gate: Arc<StartGate>,
    /// Calls of `current` so far.
    current_calls: std::sync::atomic::AtomicUsize,
}

/// What the background needs to tune before compiling the tuned tier.
pub(crate) struct TuneJob {
    mode: TuneMode,
    /// The device's tuning cache.
    path: PathBuf,
    /// The graph and options the tuned program was compiled from.
    ir: Ir,
    options: CompileOptions,
    sizes: Arc<FirstSizes>,
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
            first_sizes: None,
            gate: Arc::new(StartGate::default()),
            current_calls: Default::default(),
        }
    }

    /// Serves `quick` while a background thread compiles `tuned` (see the
    /// module docs), tuning first when `tuning` says so, and marks it
    /// compiled in `marker_dir`.
    pub(crate) fn quick_then_tuned(
        quick: Model,
        tuned: Program,
        weights: Weights,
        weight_bindings: Bindings,
        marker_dir: Option<PathBuf>,
        tuning: Option<(TuneMode, PathBuf, Ir, CompileOptions)>,
    ) -> TieredModel {
        let device = quick.device().clone();
        let first_sizes = tuning.as_ref().map(|_| Arc::new(FirstSizes::default()));
        let model = TieredModel {
            serving: Mutex::new(Serving { model: Arc::new(quick), tier: KernelTier::Quick, failed: None }),
            background: Arc::new((Mutex::new(Background::default()), Condvar::new())),
            cancelled: Arc::new(AtomicBool::new(false)),
            thread: Mutex::new(None),
            first_sizes: first_sizes.clone(),
            gate: Arc::new(StartGate::default()),
            current_calls: Default::default(),
        };
        let (background, cancelled) = (model.background.clone(), model.cancelled.clone());
        let tune = tuning.zip(first_sizes).map(|((mode, path, ir, options), sizes)| TuneJob {
            mode,
            path,
            ir,
            options,
            sizes,
        });
        let gate = model.gate.clone();
        let job = TunedJob { device, program: tuned, weights, weight_bindings, marker_dir, tune, cancelled, gate };
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
        self.collect(false);
        let model = self.serving().model.clone();
        let inputs: Vec<(String, Tensor)> = inputs.into_iter().map(|(n, t)| (n.into(), t)).collect();
        self.note_sizes(&model, &inputs);
        let result = model.run(inputs);
        self.gate.open();
        result
    }

    /// Hands the second run's sizes to a background that tunes at them.
    pub(crate) fn note_sizes(&self, model: &Model, inputs: &[(String, Tensor)]) {
        let Some(sizes) = &self.first_sizes else { return };
        if sizes.runs.fetch_add(1, Ordering::Relaxed) < 1 {
            return;
        }
        let mut slot = sizes.bindings.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            if let Ok(bound) = bind_inputs(&model.program().ir, inputs.to_vec()) {
                let mut bindings = bound.bindings;
                for (s, v) in model.weight_bindings() {
                    bindings.entry(s.clone()).or_insert(*v);
                }
                *slot = Some(bindings);
                sizes.given.notify_all();
            }
        }
    }

    /// The model serving now: the tuned one as soon as it is ready. The
    /// background compile starts at the second call (or the end of the
    /// first `run`): the first result does not share the CPU with it.
    pub fn current(&self) -> Arc<Model> {
        if self.current_calls.fetch_add(1, Ordering::Relaxed) >= 1 {
            self.gate.open();
        }
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
    /// if they failed (the quick model keeps serving). A background that
    /// tunes does so at the second run's sizes; called before that, it
    /// compiles without tuning.
    pub fn wait_tuned(&self) -> Result<Arc<Model>, RuntimeError> {
        if let Some(sizes) = &self.first_sizes {
            // No second run gave sizes to tune at: compile without tuning.
            sizes.released.store(true, Ordering::Relaxed);
        }
        self.gate.open();
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
        self.gate.open();
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
    marker_dir: Option<PathBuf>,
    tune: Option<TuneJob>,
    cancelled: Arc<AtomicBool>,
    gate: Arc<StartGate>,
}

impl TunedJob {
    fn run(mut self) -> Result<Model, String> {
        let dropped = || Err("the model was dropped".to_string());
        if !self.gate.wait(&self.cancelled) {
            return dropped();
        }
        let show = self.device.settings().shows(level::PASSES);
        let start = Instant::now();
        {
            // The helper writes no wgpu pipeline cache of its own: the
            // serving device's is the one that matters.
            let mut settings = self.device.settings().clone();
            settings.pipeline_cache = None;
            let helper = Device::with_settings(settings).map_err(|e| e.to_string())?;
            if let Some(job) = self.tune.take() {
                self.program = self.tune_then_compile(&helper, job)?;
            }
            if self.cancelled.load(Ordering::Relaxed) {
                return dropped();
            }
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
            return dropped();
        }
        if let Some(dir) = &self.marker_dir {
            driver_compiled::mark(&driver_compiled::marker_path(dir, self.device.info(), &self.program));
        }
        let tuned =
            Model::new(&self.device, self.program, &self.weights, self.weight_bindings).map_err(|e| e.to_string())?;
        Ok(tuned)
    }
}

impl TunedJob {
    /// Times the program's untuned matmuls on `helper` at the first run's
    /// sizes, saves the winners to the serving device's cache and compiles
    /// the tuned program again with them.
    fn tune_then_compile(&self, helper: &Device, job: TuneJob) -> Result<Program, String> {
        let Some(bindings) = job.sizes.wait(&self.cancelled) else { return Ok(self.program.clone()) };
        let start = Instant::now();
        let mut tuner = Tuner::with_cache(helper, job.mode, Some(job.path)).stop_when(self.cancelled.clone());
        tuner.tune_program(&self.program, &bindings, false, |_| {}).map_err(|e| e.to_string())?;
        // What was measured before a cancel is kept too.
        if let Err(e) = tuner.save() {
            tracing::warn!(error = %e, "cannot write the tuning cache");
        }
        if self.cancelled.load(Ordering::Relaxed) {
            return Ok(self.program.clone());
        }
        let options = CompileOptions { tuning: Some(Arc::new(tuner.table().clone())), ..job.options };
        let program = compile(&job.ir, &options, &self.device.target()).map_err(|e| e.to_string())?;
        if self.device.settings().shows(level::PASSES) {
            eprintln!("wgraph: {:<24} {:>9.3} ms", "tune-kernels", start.elapsed().as_secs_f64() * 1e3);
        }
        Ok(program)
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
        let marker_dir = device.settings().pipeline_cache.clone();
        let marker = marker_dir.as_deref().map(|dir| driver_compiled::marker_path(dir, device.info(), &tuned));
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
            TierPlan::Only(tier @ (KernelTier::Quick | KernelTier::CompactAttention)) => {
                let (program, _) = self.program_for(ir, weights, tier)?;
                only(program, tier)
            }
            TierPlan::QuickThenTuned => {
                let (quick, _) = self.program_for(ir, weights, KernelTier::Quick)?;
                if same_kernels(&quick, &tuned) {
                    return only(tuned, KernelTier::Tuned);
                }
                let quick = self.model_for(quick, weights, bindings.clone())?;
                let tuning = self.background_tuning(ir, &tuned)?;
                Ok(TieredModel::quick_then_tuned(quick, tuned, weights.clone(), bindings, marker_dir, tuning))
            }
        }
    }
}

impl Loader<'_> {
    /// What the background needs to tune `tuned`'s matmuls, if tuning is
    /// on, there is a cache to keep the result and the cache lacks some of
    /// them; the caller's fixed kernel or own table turns it off.
    fn background_tuning(
        &self,
        ir: &Ir,
        tuned: &Program,
    ) -> Result<Option<(TuneMode, PathBuf, Ir, CompileOptions)>, LoadError> {
        let device = self.device();
        let mode = tune::mode_from_settings(device.settings())?;
        let options = self.options();
        let Some(path) = tune::cache_path(device) else { return Ok(None) };
        if mode == TuneMode::Off || options.matmul.is_some() || options.tuning.is_some() {
            return Ok(None);
        }
        let table = tune::table_for(device)?;
        Ok(tune::lacks_any(tuned, &table)
            .then(|| (mode, path, ir.clone(), CompileOptions { tier: KernelTier::Tuned, ..options.clone() })))
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
