//! Choosing a GPU: `WGRAPH_BACKEND=vulkan|metal|dx12|gl` or the best
//! available adapter; the device's limits; an uncaptured-error handler that
//! records errors instead of panicking.

use super::disk_cache::{DiskCache, PipelineCacheStatus};
use super::error::RuntimeError;
use super::pipeline_cache::PipelineCache;
use crate::compile::{AdapterKind, Target};
use crate::settings::{level, Settings};
use std::sync::{Arc, Mutex};

/// A GPU device and queue with the facts the compiler needs.
#[derive(Clone)]
pub struct Device {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// Errors nobody captured in a scope (recorded, never a panic).
    uncaptured: Arc<Mutex<Vec<String>>>,
    /// Serialises submit-and-wait: wgpu's waits on submission indices race
    /// when several threads share a queue.
    submit: Arc<Mutex<()>>,
    /// Pipelines by WGSL, shared by every model compiled for this device.
    pub(crate) pipelines: PipelineCache,
    /// The environment settings, read once when the device was opened.
    settings: Settings,
    /// Compiled pipelines persisted between runs, when on and supported.
    pub(crate) disk_cache: Option<Arc<DiskCache>>,
    /// Whether weights can be read as read-only rgba32float storage
    /// textures (core WebGPU; some downlevel adapters lack it).
    weight_textures: bool,
}

fn backends(choice: Option<&str>) -> Result<wgpu::Backends, RuntimeError> {
    match choice {
        None => Ok(wgpu::Backends::PRIMARY),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "vulkan" | "vk" => Ok(wgpu::Backends::VULKAN),
            "metal" => Ok(wgpu::Backends::METAL),
            "dx12" | "d3d12" => Ok(wgpu::Backends::DX12),
            "gl" | "gles" | "opengl" => Ok(wgpu::Backends::GL),
            _ => Err(RuntimeError::UnknownBackend { value: v.to_string() }),
        },
    }
}

impl Device {
    /// Opens the adapter `WGRAPH_BACKEND` names, or the best one available
    /// (a discrete GPU before an integrated one before a CPU driver), and
    /// logs which one it picked.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new() -> Result<Device, RuntimeError> {
        Device::with_settings(Settings::from_env())
    }

    /// Like [`Device::new`], with settings given instead of read from the environment.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn with_settings(settings: Settings) -> Result<Device, RuntimeError> {
        pollster::block_on(Device::with_settings_async(settings))
    }

    /// Like [`Device::new`], without blocking: what a browser page awaits
    /// (there the adapter is the one WebGPU gives, high-performance preferred).
    pub async fn new_async() -> Result<Device, RuntimeError> {
        Device::with_settings_async(Settings::from_env()).await
    }

    /// Like [`Device::with_settings`], without blocking.
    pub async fn with_settings_async(settings: Settings) -> Result<Device, RuntimeError> {
        let backends = backends(settings.backend.as_deref())?;
        let adapter = pick_adapter(backends).await?;
        let info = adapter.get_info();
        let texel = adapter.get_texture_format_features(wgpu::TextureFormat::Rgba32Float);
        let weight_textures = texel.allowed_usages.contains(wgpu::TextureUsages::STORAGE_BINDING)
            && texel.flags.contains(wgpu::TextureFormatFeatureFlags::STORAGE_READ_ONLY);
        // Ask for everything the adapter offers: big models need the largest
        // bindings and buffers available.
        let limits = adapter.limits();
        // Subgroup operations let the CPU matmul load A once per SIMD row;
        // timestamps serve `wgraph bench --profile`; a pipeline cache lets
        // the next run skip the driver's compilation. Each only when the
        // adapter has it: asking for a missing feature fails the device.
        let wanted = wgpu::Features::SUBGROUP
            | wgpu::Features::TIMESTAMP_QUERY
            | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES
            | wgpu::Features::PIPELINE_CACHE;
        let features = adapter.features() & wanted;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("wgraph"),
                required_features: features,
                required_limits: limits.clone(),
                experimental_features: wgpu::ExperimentalFeatures::disabled(),
                memory_hints: wgpu::MemoryHints::Performance,
                trace: wgpu::Trace::Off,
            })
            .await
            .map_err(|e| RuntimeError::NoDevice { adapter: info.name.clone(), detail: e.to_string() })?;
        let uncaptured = Arc::new(Mutex::new(Vec::new()));
        let sink = uncaptured.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            tracing::error!(error = %e, "uncaptured wgpu error");
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        tracing::info!(adapter = %info.name, backend = ?info.backend, kind = ?info.device_type, "wgraph device");
        if settings.shows(level::PASSES) {
            eprintln!(
                "wgraph: using {} ({:?}, {:?}, driver {})",
                info.name, info.backend, info.device_type, info.driver
            );
        }
        let disk_cache = settings
            .pipeline_cache
            .as_deref()
            .and_then(|dir| DiskCache::open(&device, &info, dir, &settings))
            .map(Arc::new);
        Ok(Device {
            disk_cache,
            weight_textures,
            device,
            queue,
            info,
            limits,
            uncaptured,
            submit: Arc::new(Mutex::new(())),
            pipelines: PipelineCache::default(),
            settings,
        })
    }

    /// Whether the driver compiles a pipeline at its first dispatch
    /// rather than when it is created: lavapipe (llvmpipe) does, with LLVM,
    /// on its one queue thread, which makes the first run pay for every
    /// kernel (see `TieredModel`).
    pub fn compiles_at_first_dispatch(&self) -> bool {
        self.info.driver.to_ascii_lowercase().contains("llvmpipe") || self.info.name.contains("llvmpipe")
    }

    /// The most loop iterations one kernel invocation may run here, when
    /// the driver cuts longer loops short: llvmpipe's 65,535 in all
    /// (`LP_MAX_TGSI_LOOP_ITERATIONS`), less a margin for a kernel's short
    /// loops (a matmul's stores) next to the one `LoopBound` counts.
    pub fn loop_limit(&self) -> Option<usize> {
        self.compiles_at_first_dispatch().then_some(65_535 - 1_024)
    }

    /// Memory a run may still allocate, when it can be told: on CPU
    /// drivers the machine's available memory (`MemAvailable` in
    /// /proc/meminfo; GPUs do not report theirs through wgpu), capped by
    /// `WGRAPH_MEMORY_LIMIT`.
    pub fn memory_available(&self) -> Option<u64> {
        let machine = (self.kind() == AdapterKind::Cpu).then(|| {
            let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
            let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib.saturating_mul(1024))
        });
        match (machine.flatten(), self.settings.memory_limit) {
            (Some(m), Some(l)) => Some(m.min(l)),
            (m, l) => m.or(l),
        }
    }

    /// Adapter name, backend and type, as one line.
    pub fn describe(&self) -> String {
        // Browsers may keep the adapter's name to themselves.
        let name = if self.info.name.is_empty() { "unnamed adapter" } else { &self.info.name };
        format!("{name} ({:?}, {:?})", self.info.backend, self.info.device_type)
    }

    /// What kind of adapter this is (kernel choices depend on it).
    pub fn kind(&self) -> AdapterKind {
        match self.info.device_type {
            wgpu::DeviceType::Cpu => AdapterKind::Cpu,
            wgpu::DeviceType::IntegratedGpu => AdapterKind::Integrated,
            wgpu::DeviceType::DiscreteGpu => AdapterKind::Discrete,
            _ => AdapterKind::Other,
        }
    }

    /// The subgroup size when subgroup operations are enabled and the
    /// adapter has exactly one size (lavapipe: 8, the AVX2 SIMD width).
    pub fn subgroup_size(&self) -> Option<u32> {
        let fixed = self.info.subgroup_min_size == self.info.subgroup_max_size;
        (self.device.features().contains(wgpu::Features::SUBGROUP) && fixed).then_some(self.info.subgroup_min_size)
    }

    /// The adapter's limits, all requested when the device was opened.
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }

    /// The settings read when the device was opened.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// What the compiler needs to know about this device.
    pub fn target(&self) -> Target {
        Target {
            kind: self.kind(),
            subgroup_size: self.subgroup_size(),
            max_storage_buffers_per_stage: self.limits.max_storage_buffers_per_shader_stage,
            max_storage_buffer_binding_size: self.limits.max_storage_buffer_binding_size,
            max_texture_side: if self.weight_textures { self.limits.max_texture_dimension_2d } else { 0 },
            max_workgroups_per_dimension: self.limits.max_compute_workgroups_per_dimension,
        }
    }

    /// The adapter's name, backend, type and driver.
    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    /// The on-disk pipeline cache this device loaded (`WGRAPH_PIPELINE_CACHE`),
    /// `None` when it is off or the adapter has no pipeline cache.
    pub fn pipeline_cache(&self) -> Option<PipelineCacheStatus> {
        self.disk_cache.as_ref().map(|c| c.status())
    }

    /// Whether the device can write timestamps between dispatches of one
    /// compute pass (what [`Model::profile_timestamps`](super::Model::profile_timestamps) needs).
    pub fn has_timestamps(&self) -> bool {
        self.device.features().contains(wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
    }

    /// Held while one run uploads, submits, waits and reads back. In the
    /// browser a run that finds another one waiting is refused: one thread
    /// cannot wait for the other to finish.
    pub(crate) fn exclusive(&self, what: &str) -> Result<std::sync::MutexGuard<'_, ()>, RuntimeError> {
        #[cfg(not(target_arch = "wasm32"))]
        let _ = what;
        #[cfg(not(target_arch = "wasm32"))]
        return Ok(self.submit.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        #[cfg(target_arch = "wasm32")]
        match self.submit.try_lock() {
            Ok(guard) => Ok(guard),
            Err(std::sync::TryLockError::Poisoned(p)) => Ok(p.into_inner()),
            Err(std::sync::TryLockError::WouldBlock) => Err(RuntimeError::Busy { what: what.to_string() }),
        }
    }

    /// Errors no scope captured since the last call, as an error of `what`.
    pub(crate) fn check_uncaptured(&self, what: &str) -> Result<(), RuntimeError> {
        let errors = self.take_uncaptured();
        if errors.is_empty() {
            return Ok(());
        }
        Err(RuntimeError::Gpu { what: what.to_string(), detail: errors.join("; ") })
    }

    /// Takes the errors no scope captured since the last call.
    pub(crate) fn take_uncaptured(&self) -> Vec<String> {
        self.uncaptured.lock().map(|mut v| std::mem::take(&mut *v)).unwrap_or_default()
    }
}

/// The adapter to use: on native the best of those the instance lists
/// (a discrete GPU before an integrated one before a CPU driver); in the
/// browser the one WebGPU offers, high-performance preferred.
async fn pick_adapter(backends: wgpu::Backends) -> Result<wgpu::Adapter, RuntimeError> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    let instance = wgpu::Instance::new(desc);
    let none = |detail: String| RuntimeError::NoAdapter { backends: format!("{backends:?}"), detail };
    #[cfg(target_arch = "wasm32")]
    {
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        instance.request_adapter(&options).await.map_err(|e| {
            none(format!("{e} (WebGPU: Chrome/Edge 113+, Safari 26, Firefox 141+ on Windows; headless Chromium needs --enable-unsafe-webgpu)"))
        })
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let rank = |a: &wgpu::Adapter| match a.get_info().device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Cpu => 3,
            wgpu::DeviceType::Other => 4,
        };
        let adapters = instance.enumerate_adapters(backends).await;
        adapters.into_iter().min_by_key(rank).ok_or_else(|| none("the instance enumerated no adapters".into()))
    }
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}
