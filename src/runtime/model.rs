//! A compiled model: pipelines, weights on the device, and per-shape
//! instances (buffers, params, bind groups) cached by the symbolic bindings,
//! so `batch` and `seq` can change between calls without recompiling.

use super::device::Device;
use super::error::RuntimeError;
use super::instance::{storage, InstanceCache, Loaded};
use super::pipelines::pipeline_for;
use super::transfer::{from_gpu_bytes, to_gpu_bytes};
use crate::compile::memory::Placement;
use crate::compile::{timed, Program};
use crate::graph::{bind_inputs, BindError, Bindings, NamedTensors, NodeId, Op, Tensor};
use crate::settings::level;
use crate::weights::Weights;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// How long a run may take before `run` gives up waiting for the GPU.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);

/// Host-side check of token ids feeding an embedding lookup: GPUs clamp
/// out-of-range reads silently, so the ids are checked before upload.
#[derive(Debug, Clone)]
struct IndexCheck {
    input: NodeId,
    input_name: String,
    table: String,
    rows: usize,
    gather: NodeId,
}

/// A graph compiled for one device.
pub struct Model {
    device: Device,
    program: Program,
    pipelines: Vec<wgpu::ComputePipeline>,
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
        let settings = device.settings();
        let dev = &device.device;
        let limit = device.limits().max_storage_buffer_binding_size;
        let mut pipelines = Vec::with_capacity(program.kernels.len());
        let mut layouts = Vec::with_capacity(program.kernels.len());
        timed(settings, "create-pipelines", || -> Result<(), RuntimeError> {
            for k in &program.kernels {
                let (pipeline, layout) = pipeline_for(device, k)?;
                pipelines.push(pipeline);
                layouts.push(layout);
            }
            Ok(())
        })?;

        // Weights and constants, uploaded once: as textures for the kernels
        // that read them so, as buffers for the rest.
        let as_texture: HashSet<NodeId> = program.kernels.iter().flat_map(|k| k.textures.iter().copied()).collect();
        let mut as_buffer: HashSet<NodeId> =
            program.kernels.iter().flat_map(|k| k.inputs.iter().filter(|n| !k.textures.contains(n)).copied()).collect();
        as_buffer.extend(program.ir.outputs.iter().map(|(_, n)| *n));
        as_buffer.extend(program.taps.iter().map(|(_, n)| *n));
        let mut statics = HashMap::new();
        let mut textures = HashMap::new();
        timed(settings, "upload-weights", || -> Result<(), RuntimeError> {
            for (&node, &p) in &program.memory.placement {
                if p != Placement::Static {
                    continue;
                }
                let n = program.ir.node(node);
                let (name, tensor) = match &n.op {
                    Op::Weight { name, dtype, .. } => (name.clone(), weights.get(name, *dtype)?),
                    Op::Constant { value } => (format!("%{}:constant", node.index()), (**value).clone()),
                    Op::Input { .. } => continue,
                    other => {
                        return Err(RuntimeError::Gpu {
                            what: format!("uploading %{}", node.index()),
                            detail: format!("a `{}` node was planned as a static buffer (wgraph bug)", other.name()),
                        })
                    }
                };
                let bytes = to_gpu_bytes(&name, &tensor)?;
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
                let buf = storage(dev, &name, bytes.len() as u64, wgpu::BufferUsages::empty());
                device.queue.write_buffer(&buf, 0, &bytes);
                statics.insert(node, Arc::new(buf));
            }
            Ok(())
        })?;

        let index_checks = program
            .ir
            .graph
            .node_indices()
            .filter_map(|g| {
                let Op::Gather { axis } = program.ir.node(g).op else { return None };
                let ops = program.ir.operands(g);
                let (table, idx) = (ops[0], ops[1]);
                let Op::Input { name, .. } = &program.ir.node(idx).op else { return None };
                let rows = program.ir.node(table).ty.shape[axis].as_static()?;
                let table_name = if let Op::Weight { name, .. } = &program.ir.node(table).op {
                    name.clone()
                } else {
                    format!("%{}", table.index())
                };
                Some(IndexCheck { input: idx, input_name: name.clone(), table: table_name, rows, gather: g })
            })
            .collect();
        let mut symbols = std::collections::BTreeSet::new();
        for n in program.ir.graph.node_indices() {
            for d in &program.ir.node(n).ty.shape {
                symbols.extend(d.symbols());
            }
        }
        Ok(Model {
            device: device.clone(),
            program,
            pipelines,
            layouts,
            statics,
            textures,
            index_checks,
            instances: InstanceCache::default(),
            symbols: symbols.into_iter().collect(),
            weight_bindings,
        })
    }

    /// The compiled program (IR after passes, kernels, memory plan).
    pub fn program(&self) -> &Program {
        &self.program
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
                        node: check.gather.index(),
                    });
                }
            }
        }
        let loaded = Loaded {
            device: &self.device,
            program: &self.program,
            layouts: &self.layouts,
            statics: &self.statics,
            textures: &self.textures,
        };
        let instance = self.instances.get(&loaded, &bound.bindings)?;
        let show_dispatches = self.device.settings().shows(level::DISPATCHES);
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
                pass.set_pipeline(&self.pipelines[i]);
                pass.set_bind_group(0, &instance.bind_groups[i], &[]);
                pass.dispatch_workgroups(x, y, z);
            }
        }
        for (_, node, staging, bytes) in &instance.readback {
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
        for (_, _, staging, bytes) in &instance.readback {
            if *bytes > 0 {
                staging.slice(..*bytes).map_async(wgpu::MapMode::Read, |_| {});
            }
        }
        self.device
            .device
            .poll(wgpu::PollType::Wait { submission_index: Some(submission), timeout: Some(RUN_TIMEOUT) })
            .map_err(|e| match e {
                wgpu::PollError::Timeout => {
                    RuntimeError::Timeout { what: format!("running `{}`", ir.name), seconds: RUN_TIMEOUT.as_secs() }
                }
                other => RuntimeError::Gpu { what: format!("running `{}`", ir.name), detail: other.to_string() },
            })?;
        let errors = self.device.take_uncaptured();
        if !errors.is_empty() {
            return Err(RuntimeError::Gpu { what: format!("running `{}`", ir.name), detail: errors.join("; ") });
        }
        let mut outputs = Vec::new();
        let mut tapped = Vec::new();
        let n_outputs = ir.outputs.len();
        for (i, (name, node, staging, bytes)) in instance.readback.iter().enumerate() {
            if i >= n_outputs && !taps {
                continue;
            }
            let shape: Vec<usize> =
                ir.node(*node).ty.shape.iter().map(|d| d.eval(&bound.bindings).unwrap_or(0)).collect();
            let data = if *bytes > 0 {
                let view = staging
                    .slice(..*bytes)
                    .get_mapped_range()
                    .map_err(|e| RuntimeError::Readback { tensor: name.clone(), detail: e.to_string() })?;
                let v = view.to_vec();
                drop(view);
                staging.unmap();
                v
            } else {
                Vec::new()
            };
            let t = from_gpu_bytes(ir.node(*node).ty.dtype, shape, &data)
                .map_err(|e| RuntimeError::Readback { tensor: name.clone(), detail: e.to_string() })?;
            if i < n_outputs {
                outputs.push((name.clone(), t));
            } else {
                tapped.push((name.clone(), t));
            }
        }
        // Staging buffers that were mapped but not read (taps off) are unmapped too.
        for (i, (_, _, staging, bytes)) in instance.readback.iter().enumerate() {
            if i >= n_outputs && !taps && *bytes > 0 {
                staging.unmap();
            }
        }
        Ok((NamedTensors(outputs), NamedTensors(tapped)))
    }
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
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
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
