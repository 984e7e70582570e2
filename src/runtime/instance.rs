//! Per-shape instances of a compiled model: every buffer sized for one set
//! of symbolic bindings, the params written, bind groups and grids made.
//! Cached by the model so repeated shapes cost nothing.

use super::device::Device;
use super::error::RuntimeError;
use super::texture_fill::{texture_fills, TextureFill};
use crate::compile::memory::{element_bytes, Placement};
use crate::compile::{Grid, Program};
use crate::graph::{Bindings, Dim, NodeId};
use crate::settings::level;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Per-shape instances kept alive (each holds its own activation buffers).
const CACHED_SHAPES: usize = 4;

/// Buffers and bind groups for one set of bindings.
pub(super) struct Instance {
    pub(super) buffers: HashMap<NodeId, Arc<wgpu::Buffer>>,
    pub(super) bind_groups: Vec<wgpu::BindGroup>,
    pub(super) grids: Vec<Option<[u32; 3]>>,
    /// Per kernel: activations copied into textures before it runs.
    pub(super) fills: Vec<Vec<TextureFill>>,
    /// Per kernel: whether these sizes use its few-rows variant.
    pub(super) few_rows: Vec<bool>,
    /// Staging buffers for outputs and taps: (name, node, staging, bytes).
    pub(super) readback: Vec<(String, NodeId, wgpu::Buffer, u64)>,
    /// Set by the first run on these buffers (timed at `WGRAPH_DEBUG=1`:
    /// CPU drivers compile kernels at their first dispatch).
    pub(super) ran: std::sync::atomic::AtomicBool,
}

pub(super) fn storage(device: &wgpu::Device, label: &str, bytes: u64, extra: wgpu::BufferUsages) -> wgpu::Buffer {
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

/// What a model has uploaded once, which every instance binds.
pub(super) struct Loaded<'a> {
    pub(super) device: &'a Device,
    pub(super) program: &'a Program,
    pub(super) layouts: &'a [wgpu::BindGroupLayout],
    pub(super) statics: &'a HashMap<NodeId, Arc<wgpu::Buffer>>,
    pub(super) textures: &'a HashMap<NodeId, wgpu::TextureView>,
}

/// The most recently used instances, by bindings.
#[derive(Default)]
pub(super) struct InstanceCache(Mutex<Vec<(Bindings, Arc<Instance>)>>);

impl InstanceCache {
    /// The instance for `bindings`, creating it (and evicting the oldest) if needed.
    pub(super) fn get(&self, loaded: &Loaded<'_>, bindings: &Bindings) -> Result<Arc<Instance>, RuntimeError> {
        if let Ok(cache) = self.0.lock() {
            if let Some((_, inst)) = cache.iter().find(|(b, _)| b == bindings) {
                return Ok(inst.clone());
            }
        }
        let inst = Arc::new(loaded.create_instance(bindings)?);
        if let Ok(mut cache) = self.0.lock() {
            if cache.len() >= CACHED_SHAPES {
                cache.remove(0);
            }
            cache.push((bindings.clone(), inst.clone()));
        }
        Ok(inst)
    }
}

impl Loaded<'_> {
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
        // Everything this shape needs, checked before anything is allocated:
        // absurd sizes must be an error, not a process the OS kills.
        // In node order, so the first value over a limit is reported deterministically.
        let mut placements: Vec<(NodeId, Placement, u64)> =
            self.program.memory.placement.iter().map(|(&n, &p)| (n, p, element_bytes(ir, n, bindings))).collect();
        placements.sort_by_key(|(n, ..)| *n);
        if let Some(&(node, _, bytes)) = placements.iter().find(|(.., bytes)| *bytes > max_binding) {
            return Err(too_large(describe(node), bytes));
        }
        let own_bytes: u64 = placements
            .iter()
            .filter(|(_, p, _)| matches!(p, Placement::Input | Placement::Own))
            .map(|(.., bytes)| bytes)
            .sum();
        let needed = slot_bytes.iter().sum::<u64>().saturating_add(own_bytes);
        if let Some(available) = self.device.memory_available() {
            if needed > available {
                let sizes: Vec<String> = bindings.iter().map(|(s, v)| format!("{s} = {v}")).collect();
                return Err(RuntimeError::OutOfMemory { needed, available, sizes: sizes.join(", ") });
            }
        }
        let slot_buffers: Vec<Arc<wgpu::Buffer>> = slot_bytes
            .iter()
            .enumerate()
            .map(|(i, &b)| Arc::new(storage(dev, &format!("slot{i}"), b, wgpu::BufferUsages::empty())))
            .collect();
        for (node, p, bytes) in placements {
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
        if let Some(limit) = self.device.loop_limit() {
            check_loops(self.program, bindings, limit, &self.device.info().driver)?;
        }
        let fills = texture_fills(dev, limits.max_texture_dimension_2d, self.program, bindings, &buffers)?;
        let mut bind_groups = Vec::with_capacity(self.program.kernels.len());
        let mut grids = Vec::with_capacity(self.program.kernels.len());
        let mut few_rows = Vec::with_capacity(self.program.kernels.len());
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
                if k.textures.contains(n) || k.word_textures.contains(n) {
                    let view =
                        fills.views[i].get(n).or_else(|| self.textures.get(n)).ok_or_else(|| RuntimeError::Gpu {
                            what: format!("binding {}", k.name),
                            detail: format!("input %{} has no texture (wgraph bug)", n.index()),
                        })?;
                    entries.push(wgpu::BindGroupEntry {
                        binding: j as u32 + 1,
                        resource: wgpu::BindingResource::TextureView(view),
                    });
                    continue;
                }
                let b = buffers.get(n).ok_or_else(|| RuntimeError::Gpu {
                    what: format!("binding {}", k.name),
                    detail: format!("input %{} has no buffer (wgraph bug)", n.index()),
                })?;
                entries.push(wgpu::BindGroupEntry { binding: j as u32 + 1, resource: b.as_entire_binding() });
            }
            entries
                .push(wgpu::BindGroupEntry { binding: k.inputs.len() as u32 + 1, resource: pbuf.as_entire_binding() });
            for (j, n) in k.co_outputs.iter().enumerate() {
                let b = buffers.get(n).ok_or_else(|| RuntimeError::Gpu {
                    what: format!("binding {}", k.name),
                    detail: format!("co-output %{} has no buffer (wgraph bug)", n.index()),
                })?;
                let binding = k.inputs.len() as u32 + 2 + j as u32;
                entries.push(wgpu::BindGroupEntry { binding, resource: b.as_entire_binding() });
            }
            bind_groups.push(dev.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&k.name),
                layout: &self.layouts[i],
                entries: &entries,
            }));
            let variant = k.few_rows.as_ref().filter(|v| v.rows.eval(bindings).is_some_and(|r| r <= v.max_rows));
            few_rows.push(variant.is_some());
            let chosen = variant.map_or(&k.grid, |v| &v.grid);
            grids.push(grid(&k.name, chosen, &k.output_elements, bindings, max_dim)?);
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
        if self.device.settings().shows(level::PASSES) {
            let peak = self.program.memory.peak_bytes(ir, bindings);
            eprintln!(
                "wgraph: buffers for {bindings:?}: {} activation slots, peak activation memory {:.2} MiB",
                slot_bytes.len(),
                peak as f64 / (1 << 20) as f64
            );
        }
        Ok(Instance {
            buffers,
            bind_groups,
            grids,
            fills: fills.per_kernel,
            few_rows,
            readback,
            ran: Default::default(),
        })
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
    // A linear count of workgroups, folded into a 2-D grid past the limit.
    let fold = |wg: u64| {
        if wg <= max_dim as u64 {
            return Ok(Some([wg as u32, 1, 1]));
        }
        let y = wg.div_ceil(max_dim as u64);
        if y > max_dim as u64 {
            return Err(too_large(wg));
        }
        Ok(Some([max_dim, y as u32, 1]))
    };
    match g {
        Grid::Linear { items, per_group } => fold(ceil_div(eval(items), *per_group)),
        Grid::Blocks { items, per_group, times } => fold(ceil_div(eval(items), *per_group) * eval(times) as u64),
        Grid::Tiles { x, x_per, y, y_per, z } => {
            let (gx, gy, gz) = (ceil_div(eval(x), *x_per), ceil_div(eval(y), *y_per), eval(z) as u64);
            if gx > max_dim as u64 || gy > max_dim as u64 || gz > max_dim as u64 {
                return Err(too_large(gx * gy * gz));
            }
            Ok(Some([gx as u32, gy as u32, gz as u32]))
        }
    }
}

/// Refuses sizes at which a kernel would loop past the driver's `limit`.
fn check_loops(program: &Program, bindings: &Bindings, limit: usize, driver: &str) -> Result<(), RuntimeError> {
    for k in &program.kernels {
        let Some(bound) = &k.loop_bound else { continue };
        let iterations = bound.iterations(bindings);
        if iterations > limit {
            return Err(RuntimeError::LoopLimit {
                kernel: k.name.clone(),
                iterations,
                limit,
                driver: if driver.is_empty() { "this driver".to_string() } else { driver.to_string() },
                hint: "split the product's shared axis (fewer tokens per batch, with gradient accumulation in training), or run on a GPU",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::grid;
    use crate::compile::Grid;
    use crate::graph::{Bindings, Dim};

    fn bindings(values: &[(&str, usize)]) -> Bindings {
        values.iter().map(|&(s, v)| (Dim::sym(s).symbols().into_iter().next().unwrap(), v)).collect()
    }

    #[test]
    fn blocks_are_exactly_the_blocks_of_every_entry_folded_past_the_limit() {
        let blocks = Grid::Blocks { items: Dim::sym("m"), per_group: 128, times: Dim::sym("bh") };
        let at = |m, bh, max| grid("attention", &blocks, &Dim::new(1), &bindings(&[("m", m), ("bh", bh)]), max);
        // 96 entries of 128 rows: one workgroup each, none left over.
        assert_eq!(at(128, 96, 65_535).unwrap(), Some([96, 1, 1]));
        // 1500 rows: ceil(1500 / 128) = 12 per entry.
        assert_eq!(at(1500, 6, 65_535).unwrap(), Some([72, 1, 1]));
        // Past the limit the count folds into rows of the grid, as `Linear` does.
        assert_eq!(at(129, 40_000, 65_535).unwrap(), Some([65_535, 2, 1]));
        assert!(at(128 * 70_000, 70_000, 65_535).is_err(), "more than max^2 workgroups is an error");
    }
}
