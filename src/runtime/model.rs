//! A compiled model: pipelines, weights on the device, and per-shape
//! instances (buffers, params, bind groups) cached by the symbolic bindings,
//! so `batch` and `seq` can change between calls without recompiling.

use super::device::Device;
use super::error::RuntimeError;
use super::instance::{storage, Instance, InstanceCache, Loaded};
use super::pipelines::pipelines_for;
use super::transfer::{from_gpu_bytes, to_gpu_bytes};
use crate::compile::memory::{element_bytes, Placement};
use crate::compile::{timed, KernelSpec, Program};
use crate::graph::{bind_inputs, BindError, Bindings, NamedTensors, NodeId, Op, Tensor};
use crate::settings::level;
use crate::weights::Weights;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How long a run may take before `run` gives up waiting for the GPU.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// Host-side check of token ids feeding an embedding lookup (or its
/// scatter-add gradient): GPUs clamp out-of-range indices silently, so the
/// ids are checked before upload.
#[derive(Debug, Clone)]
struct IndexCheck {
    input: NodeId,
    input_name: String,
    table: String,
    rows: usize,
    node: NodeId,
}

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
    textures: HashMap<NodeId, wgpu::TextureView>,
    index_checks: Vec<IndexCheck>,
    instances: InstanceCache,
    /// Sizes of symbols bound by the weights' shapes.
    weight_bindings: Bindings,
    /// Every symbol the program's shapes mention, checked bound before a run.
    symbols: Vec<crate::graph::Symbol>,
    /// Names of the outputs written back into weights (not read back).
    written_back: HashSet<String>,
    /// Weight buffers by checkpoint name (for reading, writing and sharing).
    pub(super) weight_buffers: HashMap<String, (NodeId, Arc<wgpu::Buffer>)>,
}

impl Model {
    /// Creates the program's pipelines on `device` and uploads its weights
    /// and constants; `weight_bindings` are the sizes of symbols only the
    /// weights' shapes fix (a symbolic `vocab`).
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
    pub fn sharing(
        device: &Device,
        program: Program,
        weights: &Weights,
        weight_bindings: Bindings,
        other: Option<&Model>,
    ) -> Result<Model, RuntimeError> {
        let settings = device.settings();
        let dev = &device.device;
        let limit = device.limits().max_storage_buffer_binding_size;
        // The weights must fit before the first one is uploaded: a
        // checkpoint larger than the memory left fails here, by size, not
        // as a process the OS kills halfway through the upload.
        let weight_bytes = static_bytes(&program, &weight_bindings);
        if let Some(available) = device.memory_available() {
            if weight_bytes > available {
                return Err(RuntimeError::WeightsTooLarge { needed: weight_bytes, available });
            }
        }
        let (compiled, created) = timed(settings, "create-pipelines", || pipelines_for(device, &program.kernels))?;
        let (pipelines, layouts): (Vec<_>, Vec<_>) = compiled.into_iter().unzip();
        // Variants bind what their kernel binds: the same layout serves both.
        let (indices, variants): (Vec<usize>, Vec<KernelSpec>) =
            program.kernels.iter().enumerate().filter_map(|(i, k)| Some((i, k.few_rows_kernel()?))).unzip();
        let (variant_compiled, _) = timed(settings, "create-pipelines", || pipelines_for(device, &variants))?;
        let mut few_rows_pipelines = vec![None; pipelines.len()];
        for (i, (pipeline, _)) in indices.into_iter().zip(variant_compiled) {
            few_rows_pipelines[i] = Some(pipeline);
        }
        if created > 0 {
            if let Some(cache) = &device.disk_cache {
                cache.save();
            }
        }

        // Weights and constants, uploaded once: as textures for the kernels
        // that read them so, as buffers for the rest.
        let as_texture: HashSet<NodeId> = program.kernels.iter().flat_map(|k| k.textures.iter().copied()).collect();
        let mut as_buffer: HashSet<NodeId> =
            program.kernels.iter().flat_map(|k| k.inputs.iter().filter(|n| !k.textures.contains(n)).copied()).collect();
        as_buffer.extend(program.ir.outputs.iter().map(|(_, n)| *n));
        as_buffer.extend(program.taps.iter().map(|(_, n)| *n));
        let mut statics = HashMap::new();
        let mut textures = HashMap::new();
        let mut weight_buffers = HashMap::new();
        timed(settings, "upload-weights", || -> Result<(), RuntimeError> {
            for (&node, &p) in &program.memory.placement {
                if p != Placement::Static {
                    continue;
                }
                let n = program.ir.node(node);
                let (name, tensor, is_weight) = if let Op::Weight { name, dtype, .. } = &n.op {
                    (name.clone(), weights.get(name, *dtype)?, true)
                } else if let Op::Constant { value } = &n.op {
                    (format!("%{}:constant", node.index()), (**value).clone(), false)
                } else {
                    return Err(RuntimeError::Gpu {
                        what: format!("uploading %{}", node.index()),
                        detail: format!("a `{}` node was planned as a static buffer (wgraph bug)", n.op.name()),
                    });
                };
                let bytes = to_gpu_bytes(&name, &tensor)?;
                let shared =
                    other.and_then(|m| m.weight_buffers.get(&name)).filter(|(_, b)| b.size() >= bytes.len() as u64);
                if let (true, Some((_, buffer)), false) = (is_weight, shared, as_texture.contains(&node)) {
                    statics.insert(node, buffer.clone());
                    weight_buffers.insert(name, (node, buffer.clone()));
                    continue;
                }
                if bytes.len() as u64 > limit {
                    return Err(RuntimeError::BufferTooLarge {
                        tensor: name,
                        bytes: bytes.len() as u64,
                        limit,
                        hint: Some("this adapter cannot bind the tensor in one piece; run on an adapter with a larger max_storage_buffer_binding_size"),
                    });
                }
                if as_texture.contains(&node) {
                    let shape: Vec<usize> = tensor.shape().to_vec();
                    textures.insert(node, weight_texture(device, &name, &bytes, &shape));
                    if !as_buffer.contains(&node) {
                        continue;
                    }
                }
                let buf = Arc::new(storage(dev, &name, bytes.len() as u64, wgpu::BufferUsages::empty()));
                device.queue.write_buffer(&buf, 0, &bytes);
                if is_weight {
                    weight_buffers.insert(name, (node, buf.clone()));
                }
                statics.insert(node, buf);
            }
            Ok(())
        })?;

        let index_checks = program
            .ir
            .graph
            .node_indices()
            .filter_map(|g| {
                // The indexed table: a gather's data, or a scatter-add's own output.
                let ops = program.ir.operands(g);
                let op = &program.ir.node(g).op;
                let (table, rows) = if let Op::Gather { axis } = op {
                    (ops[0], program.ir.node(ops[0]).ty.shape[*axis].as_static()?)
                } else if let Op::ScatterAdd { size, .. } = op {
                    (g, size.as_static()?)
                } else {
                    return None;
                };
                let idx = ops[1];
                let Op::Input { name, .. } = &program.ir.node(idx).op else { return None };
                let table_name = if let Op::Weight { name, .. } = &program.ir.node(table).op {
                    name.clone()
                } else {
                    format!("%{}", table.index())
                };
                Some(IndexCheck { input: idx, input_name: name.clone(), table: table_name, rows, node: g })
            })
            .collect();
        let mut symbols = std::collections::BTreeSet::new();
        for n in program.ir.graph.node_indices() {
            for d in &program.ir.node(n).ty.shape {
                symbols.extend(d.symbols());
            }
        }
        let program_write_back_names = program.write_back.iter().map(|w| w.name.clone()).collect();
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
    /// use wgraph::{ops, Compiler, DType, Device, Graph, Tensor, Weights};
    /// let g = Graph::new("row_sums");
    /// let x = g.input("x", DType::F32, ["batch", "seq"]);
    /// g.output_named([("sums", ops::sum(&x, -1, false))])?;
    /// let device = Device::new()?;
    /// let model = Compiler::new(&device).compile(&g, &Weights::new())?;
    ///
    /// let out = model.run([("x", Tensor::new([2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0])?)])?;
    /// assert_eq!(out.get("sums").unwrap().to_f32_vec(), [6.0, 15.0]);
    /// let out = model.run([("x", Tensor::new([1, 4], vec![1.0f32; 4])?)])?; // other sizes, same model
    /// assert_eq!((out.get("sums").unwrap().shape(), out.get("sums").unwrap().to_f32_vec()), (&[1][..], vec![4.0]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run<S: Into<String>>(
        &self,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<NamedTensors, RuntimeError> {
        self.execute(inputs, false).map(|(outputs, _)| outputs)
    }

    /// Like [`Model::run`], also returning every tapped value (see
    /// `CompileOptions::taps`) in execution order.
    pub fn run_with_taps<S: Into<String>>(
        &self,
        inputs: impl IntoIterator<Item = (S, Tensor)>,
    ) -> Result<(NamedTensors, NamedTensors), RuntimeError> {
        self.execute(inputs, true)
    }

    /// Bytes of activation buffers (slots and outputs) for the given bindings.
    pub fn peak_activation_bytes(&self, bindings: &Bindings) -> u64 {
        self.program.memory.peak_bytes(&self.program.ir, bindings)
    }

    fn execute<S: Into<String>>(
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
        for check in &self.index_checks {
            if let Some(t) = bound.tensors.get(&check.input) {
                if let Some(&bad) = t.to_i64_vec().iter().find(|&&v| v < 0 || v as u64 >= check.rows as u64) {
                    return Err(RuntimeError::IndexRange {
                        name: check.input_name.clone(),
                        value: bad,
                        table: check.table.clone(),
                        size: check.rows,
                        node: check.node.index(),
                    });
                }
            }
        }
        let loaded = self.loaded();
        let instance = self.instances.get(&loaded, &bound.bindings)?;
        let show_dispatches = self.device.settings().shows(level::DISPATCHES);
        let first_run = !instance.ran.swap(true, std::sync::atomic::Ordering::Relaxed);
        let start = std::time::Instant::now();
        let _exclusive = self.device.exclusive();
        let queue = &self.device.queue;
        for (&node, t) in &bound.tensors {
            if let Some(buf) = instance.buffers.get(&node) {
                let name = if let Op::Input { name, .. } = &ir.node(node).op { name.as_str() } else { "input" };
                let bytes = to_gpu_bytes(name, t)?;
                if !bytes.is_empty() {
                    queue.write_buffer(buf, 0, &bytes);
                }
            }
        }
        let mut encoder =
            self.device.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(&ir.name) });
        {
            let mut pass = encoder
                .begin_compute_pass(&wgpu::ComputePassDescriptor { label: Some(&ir.name), timestamp_writes: None });
            for (i, k) in self.program.kernels.iter().enumerate() {
                let Some([x, y, z]) = instance.grids[i] else { continue };
                if show_dispatches {
                    eprintln!("wgraph: dispatch {:<40} grid {x}x{y}x{z}", k.name);
                }
                pass.set_pipeline(self.pipeline(i, &instance));
                pass.set_bind_group(0, &instance.bind_groups[i], &[]);
                pass.dispatch_workgroups(x, y, z);
            }
        }
        // New parameters and optimizer state replace their weights, on the device.
        for w in &self.program.write_back {
            let (Some(src), Some(dst)) = (instance.buffers.get(&w.value), self.statics.get(&w.weight)) else {
                continue;
            };
            let bytes = element_bytes(ir, w.value, &bound.bindings);
            // Rows written in place land at their offset, inside the weight.
            let offset = w.offset.as_ref().and_then(|o| o.eval(&bound.bindings)).unwrap_or(0) as u64 * 4;
            if offset + bytes > dst.size() {
                return Err(RuntimeError::WriteBackOutOfRange {
                    name: w.name.clone(),
                    start: offset,
                    end: offset + bytes,
                    size: dst.size(),
                });
            }
            if w.value != w.weight && bytes > 0 {
                encoder.copy_buffer_to_buffer(src, 0, dst, offset, bytes);
            }
        }
        // Read back the outputs (not those written back) and, when asked, the taps.
        let n_outputs = ir.outputs.len();
        let wanted: Vec<bool> = instance
            .readback
            .iter()
            .enumerate()
            .map(|(i, (name, ..))| if i < n_outputs { !self.written_back.contains(name) } else { taps })
            .collect();
        let reads = || instance.readback.iter().zip(&wanted).filter(|(_, &w)| w).map(|(r, _)| r);
        for (_, node, staging, bytes) in reads() {
            if let Some(src) = instance.buffers.get(node) {
                if *bytes > 0 {
                    encoder.copy_buffer_to_buffer(src, 0, staging, 0, *bytes);
                }
            }
        }
        let submission = queue.submit([encoder.finish()]);
        let errors = self.device.take_uncaptured();
        if !errors.is_empty() {
            return Err(RuntimeError::Gpu { what: format!("submitting `{}`", ir.name), detail: errors.join("; ") });
        }
        for (_, _, staging, bytes) in reads() {
            if *bytes > 0 {
                staging.slice(..*bytes).map_async(wgpu::MapMode::Read, |_| {});
            }
        }
        self.wait(submission, &format!("running `{}`", ir.name))?;
        if first_run && self.device.settings().shows(level::PASSES) {
            // The driver may compile each kernel at its first dispatch (lavapipe does).
            eprintln!("wgraph: {:<24} {:>9.3} ms", "first-dispatch", start.elapsed().as_secs_f64() * 1e3);
        }
        let mut outputs = Vec::new();
        let mut tapped = Vec::new();
        for (i, (name, node, staging, bytes)) in instance.readback.iter().enumerate() {
            if !wanted[i] {
                continue;
            }
            let shape: Vec<usize> =
                ir.node(*node).ty.shape.iter().map(|d| d.eval(&bound.bindings).unwrap_or(0)).collect();
            let t = read_mapped(staging, *bytes, ir.node(*node).ty.dtype, shape, name)?;
            if i < n_outputs {
                outputs.push((name.clone(), t));
            } else {
                tapped.push((name.clone(), t));
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
        }
    }

    /// The per-shape instances.
    pub(super) fn instances(&self) -> &InstanceCache {
        &self.instances
    }

    /// Every symbol the program's shapes mention.
    pub(super) fn symbols(&self) -> &[crate::graph::Symbol] {
        &self.symbols
    }

    /// Kernel `i`'s pipeline and its few-rows variant's, when it has one.
    pub(super) fn pipelines_of(&self, i: usize) -> impl Iterator<Item = &wgpu::ComputePipeline> {
        std::iter::once(&self.pipelines[i]).chain(self.few_rows_pipelines[i].as_ref())
    }

    /// The pipeline of kernel `i` for `instance`'s sizes: its few-rows
    /// variant when the instance chose it.
    pub(super) fn pipeline(&self, i: usize, instance: &Instance) -> &wgpu::ComputePipeline {
        match (&self.few_rows_pipelines[i], instance.few_rows.get(i)) {
            (Some(variant), Some(true)) => variant,
            _ => &self.pipelines[i],
        }
    }

    /// Waits for `submission`, with the run timeout; errors nobody captured
    /// in a scope are reported as this run's.
    pub(super) fn wait(&self, submission: wgpu::SubmissionIndex, what: &str) -> Result<(), RuntimeError> {
        self.device
            .device
            .poll(wgpu::PollType::Wait { submission_index: Some(submission), timeout: Some(RUN_TIMEOUT) })
            .map_err(|e| match e {
                wgpu::PollError::Timeout => {
                    RuntimeError::Timeout { what: what.to_string(), seconds: RUN_TIMEOUT.as_secs() }
                }
                other => RuntimeError::Gpu { what: what.to_string(), detail: other.to_string() },
            })?;
        let errors = self.device.take_uncaptured();
        if !errors.is_empty() {
            return Err(RuntimeError::Gpu { what: what.to_string(), detail: errors.join("; ") });
        }
        Ok(())
    }
}

/// The tensor in a mapped staging buffer (then unmapped).
pub(super) fn read_mapped(
    staging: &wgpu::Buffer,
    bytes: u64,
    dtype: crate::graph::DType,
    shape: Vec<usize>,
    name: &str,
) -> Result<Tensor, RuntimeError> {
    let data = if bytes > 0 {
        let view = staging
            .slice(..bytes)
            .get_mapped_range()
            .map_err(|e| RuntimeError::Readback { tensor: name.to_string(), detail: e.to_string() })?;
        let v = view.to_vec();
        drop(view);
        staging.unmap();
        v
    } else {
        Vec::new()
    };
    from_gpu_bytes(dtype, shape, &data)
        .map_err(|e| RuntimeError::Readback { tensor: name.to_string(), detail: e.to_string() })
}

/// A 2-D f32 weight `[rows, cols]` as an rgba32float texture of `cols / 4`
/// texels by `rows` (the compiler only asks for weights that fit).
fn weight_texture(device: &Device, name: &str, bytes: &[u8], shape: &[usize]) -> wgpu::TextureView {
    let (rows, cols) = (shape.first().copied().unwrap_or(1), shape.get(1).copied().unwrap_or(4));
    let size = wgpu::Extent3d { width: (cols / 4) as u32, height: rows as u32, depth_or_array_layers: 1 };
    let texture = device.device.create_texture(&wgpu::TextureDescriptor {
        label: Some(name),
        size,
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba32Float,
        usage: wgpu::TextureUsages::STORAGE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    });
    device.queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture: &texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        bytes,
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some(cols as u32 * 4),
            rows_per_image: Some(rows as u32),
        },
        size,
    );
    texture.create_view(&Default::default())
}
