//! Everything a model allocates for one set of sizes: activation slots,
//! input and own buffers, texture copies, one params buffer, bind groups
//! and readback staging. Runs at any sizes it holds reuse it.

use super::footprint::Footprint;
use super::sizes::ParamLayout;
use crate::compile::memory::Placement;
use crate::graph::{Bindings, NodeId};
use crate::runtime::error::RuntimeError;
use crate::runtime::texture_fill::{texture_fills, TextureFill};
use crate::settings::level;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::Loaded;

/// Buffers and bind groups sized for `bindings`.
pub(in crate::runtime) struct Allocation {
    /// The sizes it was made for, and what they needed.
    pub bindings: Bindings,
    pub capacity: Footprint,
    pub buffers: HashMap<NodeId, Arc<wgpu::Buffer>>,
    pub bind_groups: Vec<wgpu::BindGroup>,
    /// Per kernel: activations copied into textures before it runs.
    pub fills: Vec<Vec<TextureFill>>,
    /// Bytes of those textures, each counted once.
    pub texture_bytes: u64,
    /// Every kernel's params, at its range of the layout.
    pub params: wgpu::Buffer,
    /// What `params` holds now (written before a run at other sizes).
    pub params_written: Mutex<Vec<u32>>,
    /// Staging buffers for outputs and taps: (name, node, staging).
    pub readback: Vec<(String, NodeId, wgpu::Buffer)>,
    /// Set by the first run on these buffers (timed at `WGRAPH_DEBUG=1`:
    /// CPU drivers compile kernels at their first dispatch).
    pub ran: std::sync::atomic::AtomicBool,
}

pub(in crate::runtime) fn storage(
    device: &wgpu::Device,
    label: &str,
    bytes: u64,
    extra: wgpu::BufferUsages,
) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        // 16-byte multiples: kernels may read any buffer as vec4.
        size: bytes.max(16).next_multiple_of(16),
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC | extra,
        mapped_at_creation: false,
    })
}

impl Allocation {
    /// Bytes it holds: activation buffers, the textures activations are
    /// copied into, and readback copies.
    pub fn held_bytes(&self) -> u64 {
        let readback: u64 = self.capacity.readback.iter().sum();
        self.capacity.activation_bytes().saturating_add(self.texture_bytes).saturating_add(readback)
    }
}

impl Loaded<'_> {
    /// Allocates for `bindings`, after checking every size against the
    /// device's limits and memory: absurd sizes must be an error, not a
    /// process the OS kills.
    pub(super) fn allocate(&self, bindings: &Bindings, layout: &ParamLayout) -> Result<Allocation, RuntimeError> {
        let ir = &self.program.ir;
        let dev = &self.device.device;
        let limits = self.device.limits();
        let max_binding = limits.max_storage_buffer_binding_size;
        // Errors name the HF module when there is one, else the op and the line that built it.
        let describe = |n: NodeId| {
            let node = ir.node(n);
            node.name
                .clone()
                .unwrap_or_else(|| format!("%{} ({}, built at {})", n.index(), node.op.name(), node.location))
        };
        let too_large = |tensor: String, bytes: u64| RuntimeError::BufferTooLarge {
            tensor,
            bytes,
            limit: max_binding,
            hint: Some("use a smaller batch or sequence length"),
        };
        let capacity = Footprint::of(self.program, bindings);
        // In node order, so the first value over a limit is reported deterministically.
        let mut placed: Vec<(NodeId, Placement)> =
            self.program.memory.placement.iter().map(|(&n, &p)| (n, p)).collect();
        placed.sort_by_key(|(n, _)| *n);
        for &(node, _) in &placed {
            let bytes = crate::compile::memory::element_bytes(ir, node, bindings);
            if bytes > max_binding {
                return Err(too_large(describe(node), bytes));
            }
        }
        let needed = capacity.activation_bytes();
        if let Some(available) = self.device.memory_available() {
            if needed > available {
                let sizes: Vec<String> = bindings.iter().map(|(s, v)| format!("{s} = {v}")).collect();
                return Err(RuntimeError::OutOfMemory { needed, available, sizes: sizes.join(", ") });
            }
        }
        let mut buffers: HashMap<NodeId, Arc<wgpu::Buffer>> = self.statics.clone();
        let slot_buffers: Vec<Arc<wgpu::Buffer>> = capacity
            .slots
            .iter()
            .enumerate()
            .map(|(i, &b)| Arc::new(storage(dev, &format!("slot{i}"), b, wgpu::BufferUsages::empty())))
            .collect();
        for &(node, p) in &placed {
            if let Placement::Slot(s) = p {
                buffers.insert(node, slot_buffers[s].clone());
            }
        }
        for &(node, _, bytes) in &capacity.own {
            let label = format!("%{}:{}", node.index(), ir.node(node).op.name());
            buffers.insert(node, Arc::new(storage(dev, &label, bytes, wgpu::BufferUsages::empty())));
        }
        // Values that are a weight's first rows once the new ones are in
        // (a decode step's keys) are read from the weight's own buffer.
        for w in &self.program.write_back {
            if let Some(weight) = buffers.get(&w.weight).cloned() {
                for &node in &w.read_in_place_by {
                    buffers.insert(node, weight.clone());
                }
            }
        }
        let fills = texture_fills(dev, limits.max_texture_dimension_2d, self.program, bindings, &buffers)?;
        let params = storage(dev, &format!("{}:params", ir.name), layout.bytes, wgpu::BufferUsages::empty());
        let mut bind_groups = Vec::with_capacity(self.program.kernels.len());
        for (i, k) in self.program.kernels.iter().enumerate() {
            let missing = |what: String| RuntimeError::Gpu {
                what: format!("binding {}", k.name),
                detail: format!("{what} (wgraph bug)"),
            };
            let mut entries: Vec<wgpu::BindGroupEntry<'_>> = Vec::new();
            let out = buffers.get(&k.root).ok_or_else(|| missing("the output has no buffer".into()))?;
            entries.push(wgpu::BindGroupEntry { binding: 0, resource: out.as_entire_binding() });
            for (j, n) in k.inputs.iter().enumerate() {
                let binding = j as u32 + 1;
                if k.textures.contains(n) || k.word_textures.contains(n) {
                    let view = fills.views[i]
                        .get(n)
                        .or_else(|| self.textures.get(n))
                        .ok_or_else(|| missing(format!("input %{} has no texture", n.index())))?;
                    entries.push(wgpu::BindGroupEntry { binding, resource: wgpu::BindingResource::TextureView(view) });
                    continue;
                }
                let b = buffers.get(n).ok_or_else(|| missing(format!("input %{} has no buffer", n.index())))?;
                entries.push(wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() });
            }
            let (offset, size) = layout.ranges[i];
            entries.push(wgpu::BindGroupEntry {
                binding: k.inputs.len() as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: &params,
                    offset,
                    size: wgpu::BufferSize::new(size),
                }),
            });
            for (j, n) in k.co_outputs.iter().enumerate() {
                let b = buffers.get(n).ok_or_else(|| missing(format!("co-output %{} has no buffer", n.index())))?;
                let binding = k.inputs.len() as u32 + 2 + j as u32;
                entries.push(wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() });
            }
            bind_groups.push(dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&k.name),
                layout: &self.layouts[i],
                entries: &entries,
            }));
        }
        let tap_nodes = self.program.taps.iter().map(|(n, id)| (n.clone(), *id));
        let readback = ir
            .outputs
            .iter()
            .cloned()
            .chain(tap_nodes)
            .zip(&capacity.readback)
            .map(|((name, node), &bytes)| {
                let staging = dev.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("{name}:readback")),
                    size: bytes.max(4),
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                (name, node, staging)
            })
            .collect();
        if self.device.settings().shows(level::PASSES) {
            eprintln!(
                "wgraph: buffers for {bindings:?}: {} activation slots, activation memory {:.2} MiB",
                capacity.slots.len(),
                needed as f64 / (1 << 20) as f64
            );
        }
        Ok(Allocation {
            bindings: bindings.clone(),
            capacity,
            buffers,
            bind_groups,
            texture_bytes: fills.texture_bytes(),
            fills: fills.per_kernel,
            params,
            params_written: Mutex::new(Vec::new()),
            readback,
            ran: Default::default(),
        })
    }
}
