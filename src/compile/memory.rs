//! Memory planning: every materialised intermediate gets a slot; a slot is
//! reused once the values in it are dead (lifetimes come from the kernel
//! order). Slot sizes are symbolic, so the plan is made once and sized per
//! set of bindings at run time.

use super::codegen::KernelSpec;
use crate::graph::{Bindings, Dim, Ir, NodeId, Op, SourceKind};
use std::collections::{HashMap, HashSet};

/// Where a materialised value lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Placement {
    /// Uploaded per run from the caller's tensor.
    Input,
    /// Uploaded once at compile time (weights, constants).
    Static,
    /// A shared slot, reused across values with disjoint lifetimes.
    Slot(usize),
    /// Its own buffer, read back after the run (graph outputs, taps).
    Own,
}

/// Where every buffer-backed value lives. Made once per program; slot
/// sizes are symbolic and evaluated per set of input sizes.
#[derive(Debug, Clone, Default)]
pub struct MemoryPlan {
    /// The placement of every materialised value.
    pub placement: HashMap<NodeId, Placement>,
    /// The values sharing each slot.
    pub slots: Vec<Vec<NodeId>>,
}

impl MemoryPlan {
    /// Bytes of every slot under `bindings` (4-byte elements, at least 4).
    pub fn slot_bytes(&self, ir: &Ir, bindings: &Bindings) -> Vec<u64> {
        self.slots
            .iter()
            .map(|nodes| nodes.iter().map(|&n| element_bytes(ir, n, bindings)).max().unwrap_or(4).max(4))
            .collect()
    }

    /// Peak bytes of intermediate slots plus own buffers under `bindings`.
    pub fn peak_bytes(&self, ir: &Ir, bindings: &Bindings) -> u64 {
        let slots: u64 = self.slot_bytes(ir, bindings).iter().sum();
        let own: u64 = self
            .placement
            .iter()
            .filter(|(_, p)| matches!(p, Placement::Own))
            .map(|(&n, _)| element_bytes(ir, n, bindings))
            .sum();
        slots + own
    }
}

/// Bytes a node's value takes on the GPU (every GPU element is 4 bytes).
pub fn element_bytes(ir: &Ir, n: NodeId, bindings: &Bindings) -> u64 {
    Dim::product(&ir.node(n).ty.shape).eval(bindings).unwrap_or(0) as u64 * 4
}

/// Where a stored value lives: inputs are written per run, weights and
/// constants uploaded once; computed values get no fixed placement here.
fn source_placement(op: &Op) -> Option<Placement> {
    match op.source_kind()? {
        SourceKind::Input => Some(Placement::Input),
        SourceKind::Weight | SourceKind::Constant => Some(Placement::Static),
    }
}

/// Plans memory for `kernels` in order: sources placed as uploads, outputs
/// and the `keep` set (taps) in their own buffers, every other kernel output
/// in a slot freed after its last reader.
pub fn plan(ir: &Ir, kernels: &[KernelSpec], keep: &HashSet<NodeId>) -> MemoryPlan {
    let mut placement = HashMap::new();
    let outputs: HashSet<NodeId> = ir.outputs.iter().map(|(_, n)| *n).collect();
    let mut last_use: HashMap<NodeId, usize> = HashMap::new();
    for (i, k) in kernels.iter().enumerate() {
        for &n in &k.inputs {
            last_use.insert(n, i);
            if let Some(p) = source_placement(&ir.node(n).op) {
                placement.insert(n, p);
            }
        }
    }
    // Sources that are outputs themselves still need their buffers.
    for &n in &outputs {
        if let Some(p) = source_placement(&ir.node(n).op) {
            placement.insert(n, p);
        }
    }
    let mut slots: Vec<Vec<NodeId>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    for (i, k) in kernels.iter().enumerate() {
        // Co-outputs are graph outputs: buffers of their own.
        for &c in &k.co_outputs {
            placement.insert(c, Placement::Own);
        }
        let out = k.root;
        if outputs.contains(&out) || keep.contains(&out) {
            placement.insert(out, Placement::Own);
        } else {
            // Prefer a free slot that already holds a value of the same size.
            let size = Dim::product(&ir.node(out).ty.shape);
            let same = free.iter().position(|&s| slots[s].iter().any(|&n| Dim::product(&ir.node(n).ty.shape) == size));
            let slot = match same.or(if free.is_empty() { None } else { Some(free.len() - 1) }) {
                Some(pos) => free.remove(pos),
                None => {
                    slots.push(Vec::new());
                    slots.len() - 1
                }
            };
            slots[slot].push(out);
            placement.insert(out, Placement::Slot(slot));
        }
        // Inputs whose last reader is this kernel free their slots, after
        // the output was placed so a kernel never reads and writes one buffer.
        for &n in &k.inputs {
            if last_use.get(&n) == Some(&i) {
                if let Some(Placement::Slot(s)) = placement.get(&n) {
                    if !free.contains(s) {
                        free.push(*s);
                    }
                }
            }
        }
    }
    MemoryPlan { placement, slots }
}
