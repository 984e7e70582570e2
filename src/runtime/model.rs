//! A compiled model: pipelines, weights on the device, and allocations
//! (buffers, params, bind groups) reused by every call whose sizes they
//! hold, so `batch` and `seq` can change between calls without recompiling
//! or, mostly, reallocating.

use super::device::Device;
use super::error::RuntimeError;
use super::index_check::{check_indices, index_checks, IndexCheck};
use super::instance::{Instance, InstanceCache, Loaded, ParamLayout};
use super::pipelines::pipelines_for;
use super::readback::map_for_read;
#[cfg(not(target_arch = "wasm32"))]
use super::readback::wait_for;
use super::texture_fill::record_dispatches;
use super::transfer::{read_mapped, to_gpu_bytes};
use super::upload::{upload_statics, Statics, WeightBuffers};
use crate::compile::memory::{element_bytes, Placement};
use crate::compile::{timed, timed_async, KernelSpec, Program};
use crate::graph::{bind_inputs, BindError, Bindings, NamedTensors, NodeId, Op, Tensor};
use crate::settings::level;
use crate::weights::Weights;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Bytes of `program`'s weights and constants (its static buffers).
pub(super) fn static_bytes(program: &Program, weight_bindings: &Bindings) -> u64 {
    program
        .memory
        .placement
        .iter()
        .filter(|(_, p)| **p == Placement::Static)
        .map(|(&n, _)| element_bytes(&program.ir, n, weight_bindings))
        .sum()
}

/// A graph compiled for one device.
pub struct Model {
    device: Device,
    program: Program,
    pipelines: Vec<wgpu::ComputePipeline>,
    /// Each kernel's few-rows variant, when it has one (`KernelSpec::few_rows`).
    few_rows_pipelines: Vec<Option<wgpu::ComputePipeline>>,
    layouts: Vec<wgpu::BindGroupLayout>,
    statics: HashMap<NodeId, Arc<wgpu::Buffer>>,
    /// 2-D weights kernels read as textures (`KernelSpec::textures`).
    pub(super) textures: HashMap<NodeId, wgpu::TextureView>,
    index_checks: Vec<IndexCheck>,
    instances: InstanceCache,
    /// Each kernel's params range in an allocation's params buffer.
    params: ParamLayout,
    /// Sizes of symbols bound by the weights' shapes.
    weight_bindings: Bindings,
    /// Every symbol the program's shapes mention, checked bound before a run.
    symbols: Vec<crate::graph::Symbol>,
    /// Names of the outputs written back into weights (not read back).
    written_back: HashSet<String>,
    /// Weight buffers by checkpoint name (for reading, writing and sharing).
    pub(super) weight_buffers: WeightBuffers,
}

impl Model {
    /// Creates the program's pipelines on `device` and uploads its weights
    /// and constants; `weight_bindings` are the sizes of symbols only the
    /// weights' shapes fix (a symbolic `vocab`).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn new(
        device: &Device,
        program: Program,
        weights: &Weights,
        weight_bindings: Bindings,
    ) -> Result<Model, RuntimeError> {
        Model::sharing(device, program, weights, weight_bindings, None)
    }

    /// Like [`Model::new`], reading weights that `other` also has (same
    /// name and size) from `other`'s buffers instead of uploading copies:
    /// an evaluation model sees the training model's current parameters.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn sharing(
        device: &Device,
        program: Program,
        weights: &Weights,
        weight_bindings: Bindings,
        other: Option<&Model>,
    ) -> Result<Model, RuntimeError> {
        pollster::block_on(Model::sharing_async(device, program, weights, weight_bindings, other))
    }

    /// Like [`Model::sharing`], awaiting the device's answers (the browser
    /// reports pipeline errors asynchronously).
    pub async fn sharing_async(
        device: &Device,
        program: Program,
        weights: &Weights,
        weight_bindings: Bindings,
        other: Option<&Model>,
    ) -> Result<Model, RuntimeError> {
        let settings = device.settings();
        // The weights must fit before the first one is uploaded: a
        // checkpoint larger than the memory left fails here, by size, not
        // as a process the OS kills halfway through the upload.
        let weight_bytes = static_bytes(&program, &weight_bindings);
        if let Some(available) = device.memory_available() {
            if weight_bytes > available {
                return Err(RuntimeError::WeightsTooLarge { needed: weight_bytes, available });
            }
        }
        let (compiled, created) =
            timed_async(settings, "create-pipelines", pipelines_for(device, &program.kernels)).await?;
        let (pipelines, layouts): (Vec<_>, Vec<_>) = compiled.into_iter().unzip();
        // Variants bind what their kernel binds: the same layout serves both.
        let (indices, variants): (Vec<usize>, Vec<KernelSpec>) =
            program.kernels.iter().enumerate().filter_map(|(i, k)| Some((i, k.few_rows_kernel()?))).unzip();
        let (variant_compiled, _) = timed_async(settings, "create-pipelines", pipelines_for(device, &variants)).await?;
        let mut few_rows_pipelines = vec![None; pipelines.len()];
        for (i, (pipeline, _)) in indices.into_iter().zip(variant_compiled) {
            few_rows_pipelines[i] = Some(pipeline);
        }
        if created > 0 {
            if let Some(cache) = &device.disk_cache {
                cache.save();
            }
        }

        let Statics { statics, textures, weight_buffers } = timed(settings, "upload-weights", || {
            let shared_textures = other.map(Model::weight_textures).unwrap_or_default();
            upload_statics(device, &program, weights, other.map(|m| &m.weight_buffers), &shared_textures)
        })?;

        let index_checks = index_checks(&program);
        let mut symbols = std::collections::BTreeSet::new();
        for n in program.ir.graph.node_indices() {
            for d in &program.ir.node(n).ty.shape {
                symbols.extend(d.symbols());
            }
        }
        let program_write_back_names = program.write_back.iter().map(|w| w.name.clone()).collect();
        let params = ParamLayout::of(&program, u64::from(device.limits().min_storage_buffer_offset_alignment));
        Ok(Model {
            device: device.clone(),
            program,
            pipelines,
            few_rows_pipelines,
            layouts,
            statics,
            textures,
            index_checks,
            instances: InstanceCache::default(),
            params,
            symbols: symbols.into_iter().collect(),
            written_back: program_write_back_names,
            weight_buffers,
            weight_bindings,
        })
    }

    /// The compiled program (IR after passes, kernels, memory plan).
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Sizes of the symbols only the weights' shapes fix.
    pub fn weight_bindings(&self) -> &Bindings {
        &self.weight_bindings
    }

    /// Runs on `inputs`, named as the graph's inputs; returns the outputs in
    /// declaration order. One command encoder and one submission per call.
    /// Symbolic dims may take new sizes on every call; buffers for each new
    /// set of sizes are made once and reused.
    ///
    /// ```
    /// use wgraph::{ops, Loader, DType, Device, Graph, Tensor, Weights};
    /// let g = Graph::new("row_sums");
    /// let x = g.input("x", DType::F32, ["batch", "seq"]);
    /// g.output_named([("sums", ops::sum(&x, -1, false))])?;
    /// let device = Device::new()?;
    /// let model = Loader::new(&device).load(&g, &Weights::new())?;
    ///
    /// let out = model.run([("x", Tensor::new([2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?)])?;
    /// assert_eq!(out.get("sums").unwrap().to_f32_vec(), [6.0, 15.0]);
    /// let out = model.run([("x", Tensor::new([1, 4], vec![1.0f32; 4])?)])?; // other sizes, same model
    /// assert_eq!((out.get("sums").unwrap().shape(), out.get("sums").unwrap().to_f32_vec()), (&[1][..], vec![4.0]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run<S: Into<String>>(
        &self,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<NamedTensors, RuntimeError> {
        pollster::block_on(self.run_async(inputs))
    }

    /// Like [`Model::run`], also returning every tapped value (see
    /// `CompileOptions::taps`) in execution order.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_with_taps<S: Into<String>>(
        &self,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<(NamedTensors, NamedTensors), RuntimeError> {
        pollster::block_on(self.run_with_taps_async(inputs))
    }

    /// Like [`Model::run`], awaiting the results instead of blocking: what
    /// a browser page calls (in the browser, one run at a time per device:
    /// a second started before the first finished is refused as
    /// [`RuntimeError::Busy`]).
    pub async fn run_async<S: Into<String>>(
        &self,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<NamedTensors, RuntimeError> {
        self.execute(inputs, false).await.map(|(outputs, _)| outputs)
    }

    /// Like [`Model::run_with_taps`], awaiting the results.
    pub async fn run_with_taps_async<S: Into<String>>(
        &self,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<(NamedTensors, NamedTensors), RuntimeError> {
        self.execute(inputs, true).await
    }

    /// Bytes of activation memory the model keeps between runs: the
    /// allocations made for the sizes it has run at (activation buffers,
    /// the textures activations are copied into, readback copies), each
    /// serving every run whose sizes it holds (one made for larger sizes
    /// replaces those it holds).
    pub fn held_activation_bytes(&self) -> u64 {
        self.instances.held_bytes()
    }

    /// Bytes of activation buffers (slots and outputs) for the given bindings.
    pub fn peak_activation_bytes(&self, bindings: &Bindings) -> u64 {
        self.program.memory.peak_bytes(&self.program.ir, bindings)
    }

    // The device lock is held across the readback's await on purpose: on
    // native the device was polled to completion first, so the await does
    // not yield; in the browser the lock is only tried, never waited for.
    #[allow(clippy::await_holding_lock)]
    async fn execute<S: Into<String>>(
        &self,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
        taps: bool,
    ) -> Result<(NamedTensors, NamedTensors), RuntimeError> {
        let ir = &self.program.ir;
        let mut bound = bind_inputs(ir, inputs.into_iter().map(|(n, t)| (n.into(), t)).collect())?;
        for (s, v) in &self.weight_bindings {
            bound.bindings.entry(s.clone()).or_insert(*v);
        }
        // A size nothing binds would silently become zero on the GPU.
        if let Some(s) = self.symbols.iter().find(|s| !bound.bindings.contains_key(*s)) {
            return Err(BindError::Unbound { symbol: s.to_string() }.into());
        }
        check_indices(&self.index_checks, &bound.tensors)?;
        let loaded = self.loaded();
        let instance = self.instances.get(&loaded, &bound.bindings)?;
        let show_dispatches = self.device.settings().shows(level::DISPATCHES);
        let first_run = instance.first_run();
        let start = web_time::Instant::now();
        let what = format!("running `{}`", ir.name);
        let _exclusive = self.device.exclusive(&what)?;
        let queue = &self.device.queue;
        instance.write_params(queue);
        for (&node, t) in &bound.tensors {
            if let Some(buf) = instance.buffer(node) {
                let name = if let Op::Input { name, .. } = &ir.node(node).op { name.as_str() } else { "input" };
                let bytes = to_gpu_bytes(name, t)?;
                if !bytes.is_empty() {
                    queue.write_buffer(buf, 0, &bytes);
                }
            }
        }
        let mut encoder =
            self.device.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(&ir.name) });
        let kernels = &self.program.kernels;
        let ran: Vec<usize> = (0..kernels.len()).filter(|&i| instance.grids[i].is_some()).collect();
        record_dispatches(&mut encoder, &ir.name, &instance, ran, |pass, i| {
            let Some([x, y, z]) = instance.grids[i] else { return };
            if show_dispatches {
                eprintln!("wgraph: dispatch {:<40} grid {x}x{y}x{z}", kernels[i].name);
            }
            pass.set_pipeline(self.pipeline(i, &instance));
            pass.set_bind_group(0, instance.bind_group(i), &[]);
            pass.dispatch_workgroups(x, y, z);
        });
        // New parameters and optimizer state replace their weights, on the device.
        instance.record_write_backs(&mut encoder);
        // Read back the outputs (not those written back) and, when asked, the taps.
        let n_outputs = ir.outputs.len();
        let wanted: Vec<bool> = instance
            .readbacks()
            .enumerate()
            .map(|(i, (name, ..))| if i < n_outputs { !self.written_back.contains(name) } else { taps })
            .collect();
        let reads = || instance.readbacks().zip(&wanted).filter(|(_, &w)| w).map(|(r, _)| r);
        for (_, node, staging, bytes) in reads() {
            if let Some(src) = instance.buffer(node) {
                if bytes > 0 {
                    encoder.copy_buffer_to_buffer(src, 0, staging, 0, bytes);
                }
            }
        }
        let submission = queue.submit([encoder.finish()]);
        self.device.check_uncaptured(&format!("submitting `{}`", ir.name))?;
        let slices = reads().filter(|(.., bytes)| *bytes > 0).map(|(_, _, staging, bytes)| staging.slice(..bytes));
        map_for_read(&self.device, submission, slices.collect(), &what).await?;
        if first_run && self.device.settings().shows(level::PASSES) {
            // The driver may compile each kernel at its first dispatch (lavapipe does).
            eprintln!("wgraph: {:<24} {:>9.3} ms", "first-dispatch", start.elapsed().as_secs_f64() * 1e3);
        }
        let mut outputs = Vec::new();
        let mut tapped = Vec::new();
        for (i, (name, node, staging, bytes)) in instance.readbacks().enumerate() {
            if !wanted[i] {
                continue;
            }
            let shape: Vec<usize> =
                ir.node(node).ty.shape.iter().map(|d| d.eval(&bound.bindings).unwrap_or(0)).collect();
            let t = read_mapped(staging, bytes, ir.node(node).ty.dtype, shape, name)?;
            if i < n_outputs {
                outputs.push((name.to_string(), t));
            } else {
                tapped.push((name.to_string(), t));
            }
        }
        Ok((NamedTensors(outputs), NamedTensors(tapped)))
    }
}

impl Model {
    /// What every instance binds.
    pub(super) fn loaded(&self) -> Loaded<'_> {
        Loaded {
            device: &self.device,
            program: &self.program,
            layouts: &self.layouts,
            statics: &self.statics,
            textures: &self.textures,
            params: &self.params,
        }
    }

    /// Names of the weights the model holds in buffers.
    pub(super) fn buffered_weight_names(&self) -> impl Iterator<Item = String> + '_ {
        self.weight_buffers.keys().cloned()
    }

    #[cfg(not(target_arch = "wasm32"))]
    /// The per-shape instances.
    pub(super) fn instances(&self) -> &InstanceCache {
        &self.instances
    }

    #[cfg(not(target_arch = "wasm32"))]
    /// Every symbol the program's shapes mention.
    pub(super) fn symbols(&self) -> &[crate::graph::Symbol] {
        &self.symbols
    }

    #[cfg(not(target_arch = "wasm32"))]
    /// Kernel `i`'s pipeline and its few-rows variant's, when it has one.
    pub(super) fn pipelines_of(&self, i: usize) -> impl Iterator<Item = &wgpu::ComputePipeline> {
        std::iter::once(&self.pipelines[i]).chain(self.few_rows_pipelines[i].as_ref())
    }

    /// The pipeline of kernel `i` for `instance`'s sizes: its few-rows
    /// variant when the instance chose it.
    pub(super) fn pipeline(&self, i: usize, instance: &Instance) -> &wgpu::ComputePipeline {
        match (&self.few_rows_pipelines[i], instance.few_rows(i)) {
            (Some(variant), true) => variant,
            _ => &self.pipelines[i],
        }
    }

    /// Waits for `submission`, with the run timeout; errors nobody captured
    /// in a scope are reported as this run's.
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) fn wait(&self, submission: wgpu::SubmissionIndex, what: &str) -> Result<(), RuntimeError> {
        wait_for(&self.device, submission, what)?;
        self.device.check_uncaptured(what)
    }
}
