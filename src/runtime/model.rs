//! A compiled model: pipelines, weights on the device, and per-shape
//! instances (buffers, params, bind groups) cached by the symbolic bindings,
//! so `batch` and `seq` can change between calls without recompiling.

use super::device::Device;
use super::error::RuntimeError;
use super::transfer::{from_gpu_bytes, to_gpu_bytes};
use crate::compile::memory::{element_bytes, Placement};
use crate::compile::{CompileError, Grid, Program};
use crate::graph::{bind_inputs, Bindings, Dim, NamedTensors, NodeId, Op, Tensor};
use crate::weights::Weights;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a run may take before `run` gives up waiting for the GPU.
const RUN_TIMEOUT: Duration = Duration::from_secs(600);
/// Per-shape instances kept alive (each holds its own activation buffers).
const CACHED_SHAPES: usize = 4;

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

/// Buffers and bind groups for one set of bindings.
struct Instance {
    buffers: HashMap<NodeId, Arc<wgpu::Buffer>>,
    bind_groups: Vec<wgpu::BindGroup>,
    grids: Vec<Option<[u32; 3]>>,
    /// Staging buffers for outputs and taps: (name, node, staging, bytes).
    readback: Vec<(String, NodeId, wgpu::Buffer, u64)>,
}

/// A graph compiled for one device.
pub struct Model {
    device: Device,
    program: Program,
    pipelines: Vec<wgpu::ComputePipeline>,
    layouts: Vec<wgpu::BindGroupLayout>,
    statics: HashMap<NodeId, Arc<wgpu::Buffer>>,
    index_checks: Vec<IndexCheck>,
    instances: Mutex<Vec<(Bindings, Arc<Instance>)>>,
}

fn storage(device: &wgpu::Device, label: &str, bytes: u64, extra: wgpu::BufferUsages) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        // 16-byte multiples: kernels may read any buffer as vec4.
        size: bytes.max(16).next_multiple_of(16),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC | extra,
        mapped_at_creation: false,
    })
}

fn ceil_div(a: usize, b: u32) -> u64 {
    (a as u64).div_ceil(b as u64)
}

impl Model {
    pub(crate) fn new(device: &Device, program: Program, weights: &Weights) -> Result<Model, CompileError> {
        let dev = &device.device;
        let limit = device.limits().max_storage_buffer_binding_size;
        // Pipelines, each created inside error scopes so a driver refusal is
        // a typed error naming the kernel.
        let mut pipelines = Vec::with_capacity(program.kernels.len());
        let mut layouts = Vec::with_capacity(program.kernels.len());
        crate::compile::timed("create-pipelines", || -> Result<(), CompileError> {
            for k in &program.kernels {
                if crate::debug_level() >= 4 {
                    dump_kernel(&k.name, &k.wgsl);
                }
                let validation = dev.push_error_scope(wgpu::ErrorFilter::Validation);
                let internal = dev.push_error_scope(wgpu::ErrorFilter::Internal);
                let module = dev.create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(&k.name),
                    source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(&k.wgsl)),
                });
                // An explicit layout: automatic layouts drop bindings the
                // shader never reads (an unused params buffer).
                let entry = |binding: u32, read_only: bool| wgpu::BindGroupLayoutEntry {
                    binding,
                    visibility: wgpu::ShaderStages::COMPUTE,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Storage { read_only },
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                };
                let entries: Vec<wgpu::BindGroupLayoutEntry> =
                    (0..k.inputs.len() as u32 + 2).map(|b| entry(b, b != 0)).collect();
                let group = dev.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: Some(&k.name),
                    entries: &entries,
                });
                let layout = dev.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(&k.name),
                    bind_group_layouts: &[Some(&group)],
                    immediate_size: 0,
                });
                let pipeline = dev.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(&k.name),
                    layout: Some(&layout),
                    module: &module,
                    entry_point: Some("main"),
                    compilation_options: Default::default(),
                    cache: None,
                });
                let errors = [pollster::block_on(internal.pop()), pollster::block_on(validation.pop())];
                if let Some(e) = errors.into_iter().flatten().next() {
                    return Err(CompileError::Pipeline {
                        kernel: k.name.clone(),
                        node: k.root.index(),
                        error: e.to_string(),
                        source_code: k.wgsl.clone(),
                    });
                }
                pipelines.push(pipeline);
                layouts.push(group);
            }
            Ok(())
        })?;

        // Weights and constants, uploaded once.
        let mut statics = HashMap::new();
        crate::compile::timed("upload-weights", || -> Result<(), CompileError> {
            for (&node, &p) in &program.memory.placement {
                if p != Placement::Static {
                    continue;
                }
                let n = program.ir.node(node);
                let (name, tensor) = match &n.op {
                    Op::Weight { name, dtype, .. } => (name.clone(), weights.get(name, *dtype)?),
                    Op::Constant { value } => (format!("%{}:constant", node.index()), (**value).clone()),
                    _ => continue,
                };
                let bytes = to_gpu_bytes(&name, &tensor)?;
                if bytes.len() as u64 > limit {
                    return Err(RuntimeError::BufferTooLarge {
                        tensor: name,
                        bytes: bytes.len() as u64,
                        limit,
                        hint: Some("this adapter cannot bind the tensor in one piece; run on an adapter with a larger max_storage_buffer_binding_size"),
                    }
                    .into());
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
                let table_name = match &program.ir.node(table).op {
                    Op::Weight { name, .. } => name.clone(),
                    _ => format!("%{}", table.index()),
                };
                Some(IndexCheck { input: idx, input_name: name.clone(), table: table_name, rows, gather: g })
            })
            .collect();
        Ok(Model {
            device: device.clone(),
            program,
            pipelines,
            layouts,
            statics,
            index_checks,
            instances: Mutex::new(Vec::new()),
        })
    }

    /// The compiled program (IR after passes, kernels, memory plan).
    pub fn program(&self) -> &Program {
        &self.program
    }

    /// Runs on `inputs`, named as the graph's inputs; returns the outputs in
    /// declaration order. One command encoder and one submission per call.
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
        let bound = bind_inputs(ir, inputs.into_iter().map(|(n, t)| (n.into(), t)).collect())?;
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
        let instance = self.instance(&bound.bindings)?;
        let _exclusive = self.device.exclusive();
        let queue = &self.device.queue;
        for (&node, t) in &bound.tensors {
            if let Some(buf) = instance.buffers.get(&node) {
                let name = match &ir.node(node).op {
                    Op::Input { name, .. } => name.as_str(),
                    _ => "input",
                };
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
                if crate::debug_level() >= 2 {
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

    /// The instance for `bindings`, creating it (and evicting the oldest) if needed.
    fn instance(&self, bindings: &Bindings) -> Result<Arc<Instance>, RuntimeError> {
        if let Ok(cache) = self.instances.lock() {
            if let Some((_, inst)) = cache.iter().find(|(b, _)| b == bindings) {
                return Ok(inst.clone());
            }
        }
        let inst = Arc::new(self.create_instance(bindings)?);
        if let Ok(mut cache) = self.instances.lock() {
            if cache.len() >= CACHED_SHAPES {
                cache.remove(0);
            }
            cache.push((bindings.clone(), inst.clone()));
        }
        Ok(inst)
    }

    fn create_instance(&self, bindings: &Bindings) -> Result<Instance, RuntimeError> {
        let ir = &self.program.ir;
        let dev = &self.device.device;
        let limits = self.device.limits();
        let max_binding = limits.max_storage_buffer_binding_size;
        let too_large = |tensor: String, bytes: u64| RuntimeError::BufferTooLarge {
            tensor,
            bytes,
            limit: max_binding,
            hint: Some("use a smaller batch or sequence length"),
        };
        let node_label = |n: NodeId| format!("%{}:{}", n.index(), ir.node(n).op.name());
        // Errors name the HF module when there is one, else the op and the line that built it.
        let describe = |n: NodeId| {
            let node = ir.node(n);
            node.name
                .clone()
                .unwrap_or_else(|| format!("%{} ({}, built at {})", n.index(), node.op.name(), node.location))
        };
        let mut buffers: HashMap<NodeId, Arc<wgpu::Buffer>> = self.statics.clone();
        let slot_bytes = self.program.memory.slot_bytes(ir, bindings);
        let slot_buffers: Vec<Arc<wgpu::Buffer>> = slot_bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| Arc::new(storage(dev, &format!("slot{i}"), b, wgpu::BufferUsages::empty())))
            .collect();
        // In node order, so the first value over a limit is reported deterministically.
        let mut placements: Vec<(NodeId, Placement)> =
            self.program.memory.placement.iter().map(|(&n, &p)| (n, p)).collect();
        placements.sort_by_key(|(n, _)| *n);
        for (node, p) in placements {
            let bytes = element_bytes(ir, node, bindings);
            if bytes > max_binding {
                return Err(too_large(describe(node), bytes));
            }
            match p {
                Placement::Static => {}
                Placement::Slot(s) => {
                    buffers.insert(node, slot_buffers[s].clone());
                }
                Placement::Input | Placement::Own => {
                    buffers.insert(node, Arc::new(storage(dev, &node_label(node), bytes, wgpu::BufferUsages::empty())));
                }
            }
        }
        let mut bind_groups = Vec::with_capacity(self.program.kernels.len());
        let mut grids = Vec::with_capacity(self.program.kernels.len());
        let max_dim = limits.max_compute_workgroups_per_dimension;
        for (i, k) in self.program.kernels.iter().enumerate() {
            let params: Vec<u32> = k.params.iter().map(|d| d.eval(bindings).unwrap_or(0) as u32).collect();
            let params = if params.is_empty() { vec![0u32] } else { params };
            let pbuf =
                storage(dev, &format!("{}:params", k.name), (params.len() * 4) as u64, wgpu::BufferUsages::empty());
            self.device.queue.write_buffer(&pbuf, 0, bytemuck::cast_slice(&params));
            let mut entries: Vec<wgpu::BindGroupEntry<'_>> = Vec::new();
            let out = buffers.get(&k.root).ok_or_else(|| RuntimeError::Gpu {
                what: format!("binding {}", k.name),
                detail: "the output has no buffer (wgraph bug)".into(),
            })?;
            entries.push(wgpu::BindGroupEntry { binding: 0, resource: out.as_entire_binding() });
            for (j, n) in k.inputs.iter().enumerate() {
                let b = buffers.get(n).ok_or_else(|| RuntimeError::Gpu {
                    what: format!("binding {}", k.name),
                    detail: format!("input %{} has no buffer (wgraph bug)", n.index()),
                })?;
                entries.push(wgpu::BindGroupEntry { binding: j as u32 + 1, resource: b.as_entire_binding() });
            }
            entries
                .push(wgpu::BindGroupEntry { binding: k.inputs.len() as u32 + 1, resource: pbuf.as_entire_binding() });
            bind_groups.push(dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&k.name),
                layout: &self.layouts[i],
                entries: &entries,
            }));
            grids.push(grid(&k.name, &k.grid, &k.output_elements, bindings, max_dim)?);
        }
        let mut readback = Vec::new();
        let tap_nodes = self.program.taps.iter().map(|(n, id)| (n.clone(), *id));
        for (name, node) in ir.outputs.iter().cloned().chain(tap_nodes) {
            let bytes = element_bytes(ir, node, bindings);
            let staging = dev.create_buffer(&wgpu::BufferDescriptor {
                label: Some(&format!("{name}:readback")),
                size: bytes.max(4),
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            });
            readback.push((name, node, staging, bytes));
        }
        if crate::debug_level() >= 1 {
            let peak = self.program.memory.peak_bytes(ir, bindings);
            eprintln!(
                "wgraph: buffers for {bindings:?}: {} activation slots, peak activation memory {:.2} MiB",
                slot_bytes.len(),
                peak as f64 / (1 << 20) as f64
            );
        }
        Ok(Instance { buffers, bind_groups, grids, readback })
    }
}

/// Workgroups for one kernel, or `None` when it writes nothing.
fn grid(
    name: &str,
    g: &Grid,
    elements: &Dim,
    bindings: &Bindings,
    max_dim: u32,
) -> Result<Option<[u32; 3]>, RuntimeError> {
    if elements.eval(bindings).unwrap_or(0) == 0 {
        return Ok(None);
    }
    let eval = |d: &Dim| d.eval(bindings).unwrap_or(0);
    let too_large = |workgroups: u64| RuntimeError::GridTooLarge { kernel: name.to_string(), workgroups, max: max_dim };
    match g {
        Grid::Linear { items, per_group } => {
            let wg = ceil_div(eval(items), *per_group);
            if wg <= max_dim as u64 {
                Ok(Some([wg as u32, 1, 1]))
            } else {
                let y = wg.div_ceil(max_dim as u64);
                if y > max_dim as u64 {
                    return Err(too_large(wg));
                }
                Ok(Some([max_dim, y as u32, 1]))
            }
        }
        Grid::Tiles { x, x_per, y, y_per, z } => {
            let (gx, gy, gz) = (ceil_div(eval(x), *x_per), ceil_div(eval(y), *y_per), eval(z) as u64);
            if gx > max_dim as u64 || gy > max_dim as u64 || gz > max_dim as u64 {
                return Err(too_large(gx * gy * gz));
            }
            Ok(Some([gx as u32, gy as u32, gz as u32]))
        }
    }
}

/// `WGRAPH_DEBUG=4`: every kernel's WGSL, printed and written to the dump
/// directory (`WGRAPH_DUMP_DIR`, default `wgraph-dump/`).
fn dump_kernel(name: &str, wgsl: &str) {
    eprintln!("wgraph: kernel {name}:\n{wgsl}");
    let dir = std::env::var("WGRAPH_DUMP_DIR").unwrap_or_else(|_| "wgraph-dump".into());
    let file: String = name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '+' { c } else { '_' }).collect();
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(std::path::Path::new(&dir).join(format!("{file}.wgsl")), wgsl);
    }
}
