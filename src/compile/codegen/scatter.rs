//! The scatter-add kernel (gather's adjoint, an embedding's gradient):
//! deterministic sums without float atomics.

use super::bindings::bindings;
use super::expr::ExprBuilder;
use super::kernels::{finish, Grid, KernelSpec};
use super::shaders::{self, fill};
use super::wgsl::Scalar;
use crate::compile::error::CompileError;
use crate::compile::fuse::FusionPlan;
use crate::graph::{Dim, Ir, NodeId};

/// How many output rows one scatter-add workgroup owns: at least
/// `SCATTER_MIN_ROWS` (every workgroup scans all the indices, so on
/// lavapipe a workgroup per row of a 16-row table is much slower than one
/// for all 16), and beyond `SCATTER_GROUPS` blocks per outer slice, more
/// rows each (a 32000-row table: 256 workgroups of 125 rows).
const SCATTER_MIN_ROWS: usize = 64;
/// See [`SCATTER_MIN_ROWS`].
const SCATTER_GROUPS: usize = 256;

/// Scatter-add (`out[.., j, ..] = sum of the update rows whose index is j`):
/// one workgroup per block of output rows walking the indices in order, so
/// sums are deterministic without float atomics (shaders/scatter_add.wgsl).
pub fn scatter_add(
    ir: &Ir,
    plan: &FusionPlan,
    node: NodeId,
    axis: usize,
    row_wg: u32,
) -> Result<KernelSpec, CompileError> {
    let mut b = ExprBuilder::new(ir, plan);
    let operands = ir.operands(node);
    for &o in &operands {
        b.buffer(o);
    }
    let out = ir.node(node).ty.shape.clone();
    let count = Dim::product(&ir.node(operands[1]).ty.shape);
    let outer = Dim::product(&out[..axis]);
    let inner = Dim::product(&out[axis + 1..]);
    // Rows per workgroup; a symbolic row count gets one row each (Dim has
    // no division to count the blocks with).
    let (per, blocks) = match out[axis].as_static() {
        Some(n) => {
            let per = (n / SCATTER_GROUPS).max(n.min(SCATTER_MIN_ROWS)).max(1);
            (per, Dim::new(n.div_ceil(per)))
        }
        None => (1, out[axis].clone()),
    };
    let groups = &outer * &blocks;
    let values = [
        ("COMMON", shaders::COMMON.source.to_string()),
        ("BINDINGS", bindings(ir, plan, node, &b.inputs)?),
        ("WG", row_wg.to_string()),
        ("PER", per.to_string()),
        ("GROUPS", b.dim(&groups)),
        ("BLOCKS", b.dim(&blocks)),
        ("SIZE", b.dim(&out[axis])),
        ("M", b.dim(&count)),
        ("INNER", b.dim(&inner)),
        ("T", Scalar::of(ir.node(node).ty.dtype).name().to_string()),
    ];
    let refs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wgsl = fill(shaders::SCATTER_ADD, &refs)?;
    let name = format!("%{}:scatter_add", node.index());
    Ok(finish(b, node, name, wgsl, Grid::Linear { items: groups, per_group: 1 }))
}
