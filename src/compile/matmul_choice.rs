//! Which kernel each matmul gets: one the user fixed, or one chosen per
//! adapter and per shape, from examples/matmul_tune.rs on lavapipe
//! (BENCHMARKS.md, "Matmul kernel configurations (examples/matmul_tune.rs)"):
//! register blocking without workgroup memory on CPU drivers, and there,
//! when subgroups match the SIMD width, a tall block sharing A across the
//! subgroup for the large products it pays off on (it is slow to compile);
//! workgroup tiles on GPUs.

use super::codegen::MatmulKernel;
use super::error::CompileError;
use super::target::{AdapterKind, Target};
use crate::graph::{Dim, Ir, NodeId};

/// Small blocks: quick to compile, right for small products.
pub const REGISTER: MatmulKernel = MatmulKernel::Register { tm: 8, tn: 16, wx: 8, wy: 8, subgroup_a: false };
/// A shared across subgroups of 8 lanes (lavapipe at its default 256-bit
/// vectors), one per row of the workgroup: [`register_subgroup`]`(8)`.
/// 16 rows per invocation: a 32-row block runs a little faster on large
/// products, but compile time grows with the block and lavapipe compiles
/// at first dispatch, so its extra compile time lands on a cold first run
/// (empty shader caches) and outweighs the gain (BENCHMARKS.md, "Matmul
/// kernel configurations (examples/matmul_tune.rs)").
pub const REGISTER_SUBGROUP: MatmulKernel = register_subgroup(8);

/// The subgroup-shared block for subgroups of `lanes` lanes: each row of
/// the workgroup is one subgroup, whose lanes load different vec4s of A and
/// hand them to each other.
pub const fn register_subgroup(lanes: u32) -> MatmulKernel {
    MatmulKernel::Register { tm: 16, tn: 8, wx: lanes, wy: 4, subgroup_a: true }
}

/// The subgroup sizes the subgroup-shared blocks are built for: a CPU
/// driver's SIMD width, 8 lanes (256-bit vectors, lavapipe's default) or
/// 16 (`LP_NATIVE_VECTOR_WIDTH=512` on AVX-512 CPUs).
pub(crate) fn shared_a_lanes(subgroup_size: Option<u32>) -> Option<u32> {
    subgroup_size.filter(|&n| n == 8 || n == 16)
}

/// A 16x16 block per workgroup for products with few rows or columns
/// (per-head attention scores over short sequences): the default 64x128
/// block would leave most of its invocations idle.
pub const REGISTER_SMALL: MatmulKernel = MatmulKernel::Register { tm: 2, tn: 4, wx: 4, wy: 8, subgroup_a: false };
/// A 64x16 block for products with many rows and at most 16 columns (a
/// classifier head over every token): the 16x16 block would make a
/// workgroup per 16 rows, and lavapipe pays per workgroup (measured on the
/// reversal model's `[1408, 64] @ [64, 13]` head with
/// `examples/reversal.rs --profile`).
pub const REGISTER_NARROW: MatmulKernel = MatmulKernel::Register { tm: 8, tn: 4, wx: 4, wy: 8, subgroup_a: false };
/// A 64x64 block for products with at most 64 columns (the d_model 64
/// linears of a small transformer): the default block is 128 columns wide,
/// half of its invocations would compute nothing, and the idle half costs
/// time on lavapipe (measured on the reversal model's `[1408, 64] @ [64, 64]`
/// with `examples/reversal.rs --profile`).
pub const REGISTER_HALF: MatmulKernel = MatmulKernel::Register { tm: 8, tn: 8, wx: 8, wy: 8, subgroup_a: false };
/// A 32x64 block for products of at most 64 rows and 64 columns (the
/// weight gradient of a 64x64 Linear, a long k): a 64x64 block would be one
/// workgroup, one core; this one gives two.
pub const REGISTER_QUARTER: MatmulKernel = MatmulKernel::Register { tm: 4, tn: 8, wx: 8, wy: 8, subgroup_a: false };
/// The most output rows the matrix-vector kernel takes.
const VECTOR_MAX_ROWS: usize = 8;
/// ... and its subgroup-shared form: its rows cost one load per lane per
/// step, so it outruns the small block up to 16 rows too.
const SHARED_VECTOR_MAX_ROWS: usize = 16;

/// A matrix-vector kernel for products with at most `VECTOR_MAX_ROWS` (8)
/// output rows (a decode step, one token per sequence): each invocation
/// computes 4 columns for every row, so the weight is streamed once, and
/// 16 invocations share a workgroup. The 16x16 block leaves 7 of its 8
/// invocation rows idle at one row and streams the weight far below the
/// memory bandwidth this kernel reaches on a decode step's head product
/// (`[1, 512] @ [512, 32000]`, a LLaMA-60M head; BENCHMARKS.md, "Decoding
/// with the KV cache").
pub fn register_vector(rows: u32) -> MatmulKernel {
    MatmulKernel::Register { tm: rows.max(1), tn: 4, wx: 16, wy: 1, subgroup_a: false }
}

/// The matrix-vector kernel on devices with subgroups of `lanes` lanes:
/// every lane of a workgroup reads the same rows of A, so each lane loads
/// a different step of them and hands it to the others, one load where
/// [`register_vector`] makes every lane repeat all of them (on CPU drivers
/// each load is a per-lane fetch: the few rows' loads outnumbered the
/// weight's; BENCHMARKS.md, "Matrix-vector products").
pub fn register_vector_shared(rows: u32, lanes: u32) -> MatmulKernel {
    MatmulKernel::Register { tm: rows.max(1), tn: 4, wx: lanes, wy: 1, subgroup_a: true }
}

/// The matrix-vector kernel for `rows` rows on a device with subgroups
/// of `subgroup_size` lanes, if any.
pub(crate) fn vector_kernel(rows: u32, subgroup_size: Option<u32>) -> MatmulKernel {
    match shared_a_lanes(subgroup_size) {
        Some(lanes) => register_vector_shared(rows, lanes),
        None => register_vector(rows),
    }
}

/// Workgroup-memory tiles for GPUs.
pub const TILED: MatmulKernel = MatmulKernel::Tiled { tile: 32, tm: 4 };

/// Which kernel family, or one fixed kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulChoice {
    /// Every matmul uses this kernel.
    Fixed(MatmulKernel),
    /// Register blocking, with the subgroup kernel for large products when
    /// the device has subgroups of `subgroup_size` lanes.
    Register {
        /// The device's subgroup size, when it has one fixed size.
        subgroup_size: Option<u32>,
    },
    /// Workgroup tiles.
    Tiled,
}

/// How matmul kernels are picked for one compilation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatmulPolicy {
    /// The kernel, or the family to pick from per matmul.
    pub choice: MatmulChoice,
    /// Largest texture side the device allows for a weight read as a
    /// texture by the register kernels (0: weights stay buffers).
    pub max_texture_side: u32,
}

impl From<MatmulKernel> for MatmulPolicy {
    fn from(kernel: MatmulKernel) -> MatmulPolicy {
        MatmulPolicy { choice: MatmulChoice::Fixed(kernel), max_texture_side: 0 }
    }
}

impl MatmulPolicy {
    /// The default for a target; `family` (`WGRAPH_MATMUL`: `register` or
    /// `tiled`) overrides the kernel family.
    pub fn for_target(
        target: &Target,
        family: Option<&str>,
        max_texture_side: u32,
    ) -> Result<MatmulPolicy, CompileError> {
        let register = match family {
            Some("register") => true,
            Some("tiled") => false,
            Some(other) => return Err(CompileError::UnknownMatmulFamily { value: other.to_string() }),
            None => target.kind == AdapterKind::Cpu,
        };
        let subgroup_size = target.subgroup_size;
        let choice = if register { MatmulChoice::Register { subgroup_size } } else { MatmulChoice::Tiled };
        Ok(MatmulPolicy { choice, max_texture_side })
    }

    /// The kernel for the matmul node `mm`.
    pub fn pick(&self, ir: &Ir, mm: NodeId) -> MatmulKernel {
        match self.choice {
            MatmulChoice::Fixed(kernel) => kernel,
            MatmulChoice::Tiled => TILED,
            MatmulChoice::Register { subgroup_size } => {
                let (few_rows, few_cols) = sides_within(ir, mm, 16);
                let (rows_64, cols_64) = sides_within(ir, mm, 64);
                // Past 8 rows the shared form pays off where it streams one
                // weight matrix, not over a batch of tiny ones (per-head
                // attention products, k of a head's width).
                let vector_rows = match shared_a_lanes(subgroup_size) {
                    Some(_) if b_is_matrix(ir, mm) => SHARED_VECTOR_MAX_ROWS,
                    _ => VECTOR_MAX_ROWS,
                };
                if let Some(rows) = folded_rows(ir, mm).filter(|&r| r <= vector_rows) {
                    vector_kernel(rows as u32, subgroup_size)
                } else if few_cols && !few_rows {
                    REGISTER_NARROW
                } else if few_rows || few_cols {
                    REGISTER_SMALL
                } else if let Some(lanes) = shared_a_lanes(subgroup_size).filter(|_| large(ir, mm)) {
                    register_subgroup(lanes)
                } else if cols_64 && rows_64 {
                    REGISTER_QUARTER
                } else if cols_64 {
                    REGISTER_HALF
                } else {
                    REGISTER
                }
            }
        }
    }
}

/// The most rows a run may bind for a matmul with a symbolic row count to
/// use its matrix-vector variant (see `KernelSpec::few_rows`): a 16-token
/// prompt, one sequence's few tokens.
pub const FEW_ROWS: usize = 16;

impl MatmulPolicy {
    /// The row count and the kernel of a few-rows variant for `mm`: for
    /// the register family when the rows are symbolic (the picked kernel
    /// is sized for many).
    pub fn few_rows_variant(&self, ir: &Ir, mm: NodeId) -> Option<(Dim, MatmulKernel)> {
        let MatmulChoice::Register { subgroup_size } = self.choice else { return None };
        let rows = rows_dim(ir, mm)?;
        rows.as_static().is_none().then(|| (rows, vector_kernel(VECTOR_MAX_ROWS as u32, subgroup_size)))
    }
}

/// The output rows one kernel instance covers: the batch folded in when B
/// is one matrix (as the kernel folds it), else the rows of one product.
fn rows_dim(ir: &Ir, mm: NodeId) -> Option<Dim> {
    let out = &ir.node(mm).ty.shape;
    let r = out.len();
    if r < 2 {
        return None;
    }
    Some(if b_is_matrix(ir, mm) { Dim::product(&out[..r - 1]) } else { out[r - 2].clone() })
}

/// Whether B is one matrix (a weight, or one activation) rather than a
/// batch of them.
fn b_is_matrix(ir: &Ir, mm: NodeId) -> bool {
    ir.operands(mm).get(1).is_some_and(|&b| ir.node(b).ty.rank() == 2)
}

/// The static number of output rows one kernel instance covers (the batch
/// folded in when B is one matrix), if static.
fn folded_rows(ir: &Ir, mm: NodeId) -> Option<usize> {
    rows_dim(ir, mm)?.as_static()
}

/// Whether a matmul's output has at most `limit` rows, and at most `limit`
/// columns (static sizes). A batch times one matrix counts all its rows:
/// the kernel folds the batch into them.
fn sides_within(ir: &Ir, mm: NodeId, limit: usize) -> (bool, bool) {
    let (Some(rows), Some(cols)) = (rows_dim(ir, mm), ir.node(mm).ty.shape.last()) else { return (false, false) };
    let few = |d: &Dim| d.as_static().is_some_and(|v| v <= limit);
    (few(&rows), few(cols))
}

/// Whether a matmul is big enough in every direction for the tall
/// subgroup block: symbolic sizes count as a typical sequence length.
fn large(ir: &Ir, mm: NodeId) -> bool {
    // u64: the product passes a 32-bit usize (wasm32) for large layers.
    let estimate = |d: &Dim| d.as_static().map_or(256, |v| v as u64);
    let out = &ir.node(mm).ty.shape;
    let Some(&a) = ir.operands(mm).first() else { return false };
    let (r, a_shape) = (out.len(), &ir.node(a).ty.shape);
    if r < 2 || a_shape.is_empty() {
        return false;
    }
    let (m, n, k) = (estimate(&out[r - 2]), estimate(&out[r - 1]), estimate(&a_shape[a_shape.len() - 1]));
    m >= 64 && n >= 64 && k >= 64 && m.saturating_mul(n).saturating_mul(k) >= 1 << 21
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{ops, DType, Graph};

    /// The matmul node of `[m, k] @ [k, n]` (`m` may be symbolic).
    fn matmul_ir(m: Dim, k: usize, n: usize) -> (Ir, NodeId) {
        let g = Graph::new("mm");
        let a = g.input("a", DType::F32, [m, Dim::new(k)]);
        let b = g.weight("b", DType::F32, [k, n]);
        let y = ops::matmul(&a, &b);
        g.output([y.clone()]).unwrap();
        let ir = g.ir().unwrap().clone();
        (ir, y.node_id().unwrap())
    }

    #[test]
    fn the_subgroup_kernel_goes_to_large_products_on_matching_devices_only() {
        let lavapipe = MatmulPolicy { choice: MatmulChoice::Register { subgroup_size: Some(8) }, max_texture_side: 0 };
        let no_subgroups = MatmulPolicy { choice: MatmulChoice::Register { subgroup_size: None }, max_texture_side: 0 };
        let gpu = MatmulPolicy { choice: MatmulChoice::Tiled, max_texture_side: 0 };
        let (big, big_mm) = matmul_ir(Dim::new(1024), 1024, 1024);
        let (linear, linear_mm) = matmul_ir(Dim::sym("tokens"), 384, 384);
        let (small, small_mm) = matmul_ir(Dim::new(16), 64, 64);
        let (heads, heads_mm) = matmul_ir(Dim::sym("seq"), 32, 256);
        assert_eq!(lavapipe.pick(&big, big_mm), REGISTER_SUBGROUP);
        assert_eq!(lavapipe.pick(&linear, linear_mm), REGISTER_SUBGROUP, "symbolic rows count as a sequence");
        assert_eq!(lavapipe.pick(&small, small_mm), register_vector_shared(16, 8), "16 rows, subgroups: matrix-vector");
        assert_eq!(no_subgroups.pick(&small, small_mm), REGISTER_SMALL, "16 rows: the small block");
        let (head, head_mm) = matmul_ir(Dim::sym("tokens"), 64, 13);
        assert_eq!(lavapipe.pick(&head, head_mm), REGISTER_NARROW, "many rows, 13 columns: a tall block");
        let (decode, decode_mm) = matmul_ir(Dim::new(1), 512, 32000);
        assert_eq!(
            lavapipe.pick(&decode, decode_mm),
            register_vector_shared(1, 8),
            "one row: the matrix-vector kernel"
        );
        assert_eq!(no_subgroups.pick(&decode, decode_mm), register_vector(1), "no subgroups: each lane loads A");
        let (eight, eight_mm) = matmul_ir(Dim::new(8), 64, 64);
        assert_eq!(lavapipe.pick(&eight, eight_mm), register_vector_shared(8, 8));
        // Per-head scores, a batch of [11, 16] @ [16, 11]: not the weight-streaming kernel.
        let heads_g = Graph::new("scores");
        let q = heads_g.input("q", DType::F32, [Dim::sym("bh"), Dim::new(11), Dim::new(16)]);
        let kt = heads_g.input("kt", DType::F32, [Dim::sym("bh"), Dim::new(16), Dim::new(11)]);
        let scores = ops::matmul(&q, &kt);
        heads_g.output([scores.clone()]).unwrap();
        let scores_ir = heads_g.ir().unwrap().clone();
        assert_eq!(lavapipe.pick(&scores_ir, scores.node_id().unwrap()), REGISTER_SMALL, "a batch of small matrices");
        let (tiny, tiny_mm) = matmul_ir(Dim::new(11), 64, 13);
        assert_eq!(no_subgroups.pick(&tiny, tiny_mm), REGISTER_SMALL, "few rows and columns");
        let (seventeen, seventeen_mm) = matmul_ir(Dim::new(17), 64, 64);
        assert_eq!(lavapipe.pick(&seventeen, seventeen_mm), REGISTER_QUARTER, "17x64: two workgroups, not one");
        let (d64, d64_mm) = matmul_ir(Dim::sym("tokens"), 64, 64);
        assert_eq!(lavapipe.pick(&d64, d64_mm), REGISTER_HALF, "64 columns: a block 64 wide");
        let (wide, wide_mm) = matmul_ir(Dim::new(17), 64, 65);
        assert_eq!(lavapipe.pick(&wide, wide_mm), REGISTER);
        assert_eq!(lavapipe.pick(&heads, heads_mm), REGISTER, "k = head_dim 32 is too short");
        assert_eq!(no_subgroups.pick(&big, big_mm), REGISTER);
        let wide_simd =
            MatmulPolicy { choice: MatmulChoice::Register { subgroup_size: Some(16) }, max_texture_side: 0 };
        assert_eq!(wide_simd.pick(&big, big_mm), register_subgroup(16), "16-lane subgroups: the block 16 lanes wide");
        let odd = MatmulPolicy { choice: MatmulChoice::Register { subgroup_size: Some(4) }, max_texture_side: 0 };
        assert_eq!(odd.pick(&big, big_mm), REGISTER);
        assert_eq!(gpu.pick(&big, big_mm), TILED);
        assert_eq!(MatmulPolicy::from(REGISTER).pick(&big, big_mm), REGISTER, "a fixed kernel is kept");
    }
}
