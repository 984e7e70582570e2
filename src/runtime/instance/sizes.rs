//! What a run at one set of bindings sets on an allocation: each kernel's
//! params, grid and variant, the rows its texture copies move and the
//! bytes read back. Cheap to compute per run; nothing is allocated.

use super::grid::grid;
use crate::compile::memory::element_bytes;
use crate::compile::Program;
use crate::graph::Bindings;
use crate::runtime::error::RuntimeError;

/// Where each kernel's params live in the allocation's one params buffer:
/// `(offset, bytes)`, offsets aligned as the device binds storage ranges.
pub(in crate::runtime) struct ParamLayout {
    pub ranges: Vec<(u64, u64)>,
    pub bytes: u64,
}

impl ParamLayout {
    pub fn of(program: &Program, alignment: u64) -> ParamLayout {
        let mut offset = 0u64;
        let ranges = program
            .kernels
            .iter()
            .map(|k| {
                // 16-byte multiples: kernels may read any buffer as vec4.
                let bytes = (k.params.len().max(1) as u64 * 4).next_multiple_of(16);
                let at = offset;
                offset = (at + bytes).next_multiple_of(alignment.max(16));
                (at, bytes)
            })
            .collect();
        ParamLayout { ranges, bytes: offset.max(16) }
    }
}

/// The per-run values of one set of bindings.
pub(in crate::runtime) struct Sizes {
    /// Workgroups per kernel; `None` where it writes nothing.
    pub grids: Vec<Option<[u32; 3]>>,
    /// Per kernel: whether these sizes use its few-rows variant.
    pub few_rows: Vec<bool>,
    /// The params buffer's contents, every kernel's at its range.
    pub params: Vec<u32>,
    /// Per kernel, the activation rows each texture copy moves.
    pub fill_rows: Vec<Vec<u32>>,
    /// Bytes of each output, then each tap.
    pub readback: Vec<u64>,
}

impl Sizes {
    pub fn of(
        program: &Program,
        layout: &ParamLayout,
        bindings: &Bindings,
        max_workgroups: u32,
    ) -> Result<Sizes, RuntimeError> {
        let n = program.kernels.len();
        let mut sizes = Sizes {
            grids: Vec::with_capacity(n),
            few_rows: Vec::with_capacity(n),
            params: vec![0; (layout.bytes / 4) as usize],
            fill_rows: Vec::with_capacity(n),
            readback: Vec::new(),
        };
        for (k, &(offset, _)) in program.kernels.iter().zip(&layout.ranges) {
            let at = (offset / 4) as usize;
            for (j, d) in k.params.iter().enumerate() {
                sizes.params[at + j] = d.eval(bindings).unwrap_or(0) as u32;
            }
            let variant = k.few_rows.as_ref().filter(|v| v.rows.eval(bindings).is_some_and(|r| r <= v.max_rows));
            sizes.few_rows.push(variant.is_some());
            let chosen = variant.map_or(&k.grid, |v| &v.grid);
            sizes.grids.push(grid(&k.name, chosen, &k.output_elements, bindings, max_workgroups)?);
            let rows = k.texture_copies.iter().map(|c| c.rows.eval(bindings).unwrap_or(0) as u32).collect();
            sizes.fill_rows.push(rows);
        }
        let ir = &program.ir;
        let read = ir.outputs.iter().map(|(_, n)| *n).chain(program.taps.iter().map(|(_, n)| *n));
        sizes.readback = read.map(|n| element_bytes(ir, n, bindings)).collect();
        Ok(sizes)
    }
}
