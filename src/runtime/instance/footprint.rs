//! What one set of bindings needs allocated, so an allocation made for
//! other sizes can be checked for holding it: every size a buffer, texture
//! or readback has, in a fixed order.

use super::super::texture_fill::copy_size;
use crate::compile::memory::{element_bytes, Placement};
use crate::compile::Program;
use crate::graph::{Bindings, NodeId};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(in crate::runtime) struct Footprint {
    /// Bytes per activation slot.
    pub slots: Vec<u64>,
    /// Bytes of each input and own buffer, by node (in node order).
    pub own: Vec<(NodeId, Placement, u64)>,
    /// Per kernel, each texture copy's `(width, height)` in texels.
    pub textures: Vec<Vec<(u32, usize)>>,
    /// Bytes of each output, then each tap.
    pub readback: Vec<u64>,
}

impl Footprint {
    pub fn of(program: &Program, bindings: &Bindings) -> Footprint {
        let ir = &program.ir;
        let mut own: Vec<(NodeId, Placement, u64)> = program
            .memory
            .placement
            .iter()
            .filter(|(_, p)| matches!(p, Placement::Input | Placement::Own))
            .map(|(&n, &p)| (n, p, element_bytes(ir, n, bindings)))
            .collect();
        own.sort_by_key(|(n, ..)| *n);
        let textures = program
            .kernels
            .iter()
            .map(|k| {
                k.texture_copies
                    .iter()
                    .map(|c| {
                        let (_, width, height) = copy_size(c, bindings);
                        (width, height)
                    })
                    .collect()
            })
            .collect();
        let read = ir.outputs.iter().map(|(_, n)| *n).chain(program.taps.iter().map(|(_, n)| *n));
        Footprint {
            slots: program.memory.slot_bytes(ir, bindings),
            own,
            textures,
            readback: read.map(|n| element_bytes(ir, n, bindings)).collect(),
        }
    }

    /// Whether buffers and textures of this footprint are at least as large
    /// as every one `needed` asks for.
    pub fn holds(&self, needed: &Footprint) -> bool {
        let each = |have: &[u64], want: &[u64]| have.len() == want.len() && have.iter().zip(want).all(|(h, w)| h >= w);
        each(&self.slots, &needed.slots)
            && each(&self.readback, &needed.readback)
            && self.own.len() == needed.own.len()
            && self.own.iter().zip(&needed.own).all(|(h, w)| h.0 == w.0 && h.2 >= w.2)
            && self.textures.len() == needed.textures.len()
            && self
                .textures
                .iter()
                .zip(&needed.textures)
                .all(|(h, w)| h.len() == w.len() && h.iter().zip(w).all(|(h, w)| h.0 >= w.0 && h.1 >= w.1))
    }

    /// Bytes of the activations (slots, inputs and own buffers).
    pub fn activation_bytes(&self) -> u64 {
        self.slots.iter().sum::<u64>().saturating_add(self.own.iter().map(|(.., b)| b).sum())
    }
}
