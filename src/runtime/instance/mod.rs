//! Per-shape instances of a compiled model. An [`Allocation`] holds the
//! buffers, textures, bind groups and readback staging for one set of
//! sizes; an [`Instance`] is an allocation used at sizes it holds, with
//! their grids, params, copied rows and readback lengths. Kernels read every
//! size from their params, so one allocation serves every shape it is large
//! enough for: a decode step per new cache length reuses an earlier step's
//! buffers instead of allocating (and, on drivers that keep freed memory,
//! holding) a set of its own.

mod allocation;
mod footprint;
mod grid;
mod sizes;
mod write_back;

pub(super) use allocation::{storage, Allocation};
use footprint::Footprint;
pub(super) use sizes::ParamLayout;
use sizes::Sizes;
use write_back::{write_back_copies, WriteBackCopies};

use super::device::Device;
use super::error::RuntimeError;
use crate::compile::Program;
use crate::graph::{Bindings, NodeId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Allocations kept alive (each holds its own activation buffers).
const CACHED_ALLOCATIONS: usize = 4;

/// An allocation and the sizes one run uses it at.
pub(super) struct Instance {
    alloc: Arc<Allocation>,
    sizes: Sizes,
    /// Workgroups per kernel at these sizes; `None` where it writes nothing.
    pub(super) grids: Vec<Option<[u32; 3]>>,
    write_backs: WriteBackCopies,
}

impl Instance {
    /// The buffer `node` lives in (activations, inputs and statics).
    pub(super) fn buffer(&self, node: NodeId) -> Option<&Arc<wgpu::Buffer>> {
        self.alloc.buffers.get(&node)
    }

    pub(super) fn bind_group(&self, kernel: usize) -> &wgpu::BindGroup {
        &self.alloc.bind_groups[kernel]
    }

    /// Whether these sizes use kernel `i`'s few-rows variant.
    pub(super) fn few_rows(&self, kernel: usize) -> bool {
        self.sizes.few_rows.get(kernel).copied().unwrap_or(false)
    }

    /// Whether kernel `i` needs copies recorded before it, outside a pass.
    pub(super) fn has_copies(&self, kernel: usize) -> bool {
        self.alloc.fills[kernel].iter().any(|f| f.copies()) || self.write_backs.before.contains_key(&kernel)
    }

    /// Records what kernel `i` reads that copies provide: rows written
    /// back into a weight it reads in place, then its texture copies (for
    /// the rows these sizes have).
    pub(super) fn record_copies(&self, kernel: usize, encoder: &mut wgpu::CommandEncoder) {
        for copy in self.write_backs.before.get(&kernel).into_iter().flatten() {
            copy.record(encoder);
        }
        for (fill, &rows) in self.alloc.fills[kernel].iter().zip(&self.sizes.fill_rows[kernel]) {
            fill.record(encoder, rows);
        }
    }

    /// Records the write-backs that land after the run (new weights, rows
    /// no kernel reads in place).
    pub(super) fn record_write_backs(&self, encoder: &mut wgpu::CommandEncoder) {
        for copy in &self.write_backs.after {
            copy.record(encoder);
        }
    }

    /// Outputs, then taps: `(name, node, staging, bytes at these sizes)`.
    pub(super) fn readbacks(&self) -> impl Iterator<Item = (&str, NodeId, &wgpu::Buffer, u64)> {
        self.alloc.readback.iter().zip(&self.sizes.readback).map(|((n, node, s), &b)| (n.as_str(), *node, s, b))
    }

    /// Whether this is the allocation's first run (and marks it run).
    pub(super) fn first_run(&self) -> bool {
        !self.alloc.ran.swap(true, std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes these sizes' params where the allocation holds others. Call
    /// with the device held exclusively, before recording the dispatches.
    pub(super) fn write_params(&self, queue: &wgpu::Queue) {
        let Ok(mut written) = self.alloc.params_written.lock() else { return };
        if *written != self.sizes.params {
            queue.write_buffer(&self.alloc.params, 0, bytemuck::cast_slice(&self.sizes.params));
            written.clone_from(&self.sizes.params);
        }
    }
}

/// What a model has uploaded once, which every instance binds.
pub(super) struct Loaded<'a> {
    pub(super) device: &'a Device,
    pub(super) program: &'a Program,
    pub(super) layouts: &'a [wgpu::BindGroupLayout],
    pub(super) statics: &'a HashMap<NodeId, Arc<wgpu::Buffer>>,
    pub(super) textures: &'a HashMap<NodeId, wgpu::TextureView>,
    /// Where each kernel's params go (the same at every size).
    pub(super) params: &'a ParamLayout,
}

/// The most recently used allocations, newest last.
#[derive(Default)]
pub(super) struct InstanceCache(Mutex<Vec<Arc<Allocation>>>);

impl InstanceCache {
    /// The instance for `bindings`: on a cached allocation that holds
    /// them, else on a new one. A new allocation after one made for other
    /// sizes rounds the sizes that changed up to a power of two, so sizes
    /// that grow step by step (a decode's cache length) allocate a
    /// logarithmic number of times, not once per step.
    pub(super) fn get(&self, loaded: &Loaded<'_>, bindings: &Bindings) -> Result<Instance, RuntimeError> {
        let program = loaded.program;
        let device = loaded.device;
        if let Some(limit) = device.loop_limit() {
            grid::check_loops(program, bindings, limit, &device.info().driver)?;
        }
        let layout = loaded.params;
        let sizes = Sizes::of(program, layout, bindings, device.limits().max_compute_workgroups_per_dimension)?;
        let needed = Footprint::of(program, bindings);
        let instance = |alloc: Arc<Allocation>, sizes: Sizes| {
            let grids = sizes.grids.clone();
            let write_backs = write_back_copies(program, &alloc.buffers, bindings, |i| grids[i].is_some())?;
            Ok(Instance { alloc, sizes, grids, write_backs })
        };
        let newest = {
            let cache = self.0.lock().map_err(|_| poisoned())?;
            if let Some(alloc) = cache.iter().rev().find(|a| a.capacity.holds(&needed)) {
                return instance(alloc.clone(), sizes);
            }
            cache.last().map(|a| a.bindings.clone())
        };
        let grown = newest.map(|n| grown(bindings, &n)).filter(|g| g != bindings);
        let alloc = match grown.map(|g| loaded.allocate(&g, layout)) {
            Some(Ok(a)) if a.capacity.holds(&needed) => a,
            // Rounded up, the sizes may pass a limit the exact ones do not.
            _ => loaded.allocate(bindings, layout)?,
        };
        let alloc = Arc::new(alloc);
        let mut cache = self.0.lock().map_err(|_| poisoned())?;
        // What the new allocation holds it serves from now on: the ones it
        // outgrew only hold memory (a run still using one keeps it alive).
        cache.retain(|old| !alloc.capacity.holds(&old.capacity));
        if cache.len() >= CACHED_ALLOCATIONS {
            cache.remove(0);
        }
        cache.push(alloc.clone());
        instance(alloc, sizes)
    }
}

impl InstanceCache {
    /// Bytes of the activation memory the cached allocations hold.
    pub(super) fn held_bytes(&self) -> u64 {
        self.0.lock().map_or(0, |cache| cache.iter().map(|a| a.held_bytes()).sum())
    }
}

/// `bindings` with every value that differs from `previous` rounded up to
/// a power of two.
fn grown(bindings: &Bindings, previous: &Bindings) -> Bindings {
    bindings
        .iter()
        .map(|(s, &v)| {
            (s.clone(), if previous.get(s) == Some(&v) { v } else { v.checked_next_power_of_two().unwrap_or(v) })
        })
        .collect()
}

fn poisoned() -> RuntimeError {
    RuntimeError::Gpu { what: "caching buffers".into(), detail: "a run panicked while holding the cache".into() }
}
