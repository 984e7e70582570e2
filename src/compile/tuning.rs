//! Kernel choices measured on the device, as plain data the compiler
//! consults before its own per-shape rules (`MatmulPolicy::pick`). The
//! runtime's tuner (`runtime::tune`) times the [`candidates`] of every
//! matmul [`MatmulSignature`] a program has and records the fastest here;
//! the table is persisted per adapter, driver and CPU, so a kernel chosen
//! on one machine is never assumed on another.
//!
//! Numbers never depend on the choice: every candidate computes the same
//! products (tests/gpu_matmul_kernels.rs runs each against the interpreter).

use super::codegen::MatmulKernel;
use super::matmul_choice::{
    register_subgroup, register_vector, register_vector_shared, shared_a_lanes, FEW_ROWS, REGISTER, REGISTER_HALF,
    REGISTER_NARROW, REGISTER_QUARTER, REGISTER_SMALL, TILED,
};
use super::target::{AdapterKind, Target};
use crate::graph::{Bindings, Dim, Ir, NodeId, Op};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How much tuning to do (`WGRAPH_TUNE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TuneMode {
    /// No measuring and no table: the compiler's fixed per-shape rules.
    Off,
    /// A few candidates per matmul: the rule's pick and its closest rivals.
    #[default]
    Quick,
    /// Every candidate, including the blocks that take long to compile.
    Full,
}

impl FromStr for TuneMode {
    type Err = String;

    fn from_str(s: &str) -> Result<TuneMode, String> {
        match s.trim() {
            "off" => Ok(TuneMode::Off),
            "quick" => Ok(TuneMode::Quick),
            "full" => Ok(TuneMode::Full),
            other => Err(other.to_string()),
        }
    }
}

/// One size of a signature: exact when static, the next power of two for
/// row counts (so 100 and 128 rows share a choice), or symbolic (a model's
/// `batch * seq`, tuned at the size the tuner is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SizeKey {
    /// A static size, as is.
    Exact(usize),
    /// A static row count, rounded up to a power of two.
    Bucket(usize),
    /// A symbolic size.
    Symbolic,
}

impl fmt::Display for SizeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SizeKey::Exact(v) => write!(f, "{v}"),
            SizeKey::Bucket(v) => write!(f, "<={v}"),
            SizeKey::Symbolic => write!(f, "sym"),
        }
    }
}

/// What a matmul kernel's speed depends on: its sizes (the batch folded
/// into the rows as the kernel folds it), which operands are read
/// transposed, and whether B is a 2-D weight read from a texture.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MatmulSignature {
    /// Output rows one kernel instance covers.
    pub rows: SizeKey,
    /// Products per dispatch when B is a batch of matrices (1 when folded).
    pub batch: SizeKey,
    /// The contraction length.
    pub k: SizeKey,
    /// Output columns.
    pub n: SizeKey,
    /// A is read transposed (`[k, m]` in memory).
    pub a_transposed: bool,
    /// B is read transposed (`[n, k]` in memory: a Linear weight).
    pub b_transposed: bool,
    /// B is a 2-D weight read from a texture (the compile allows weight
    /// textures; a training step, whose weights change, does not).
    pub b_texture: bool,
}

impl fmt::Display for MatmulSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = |b: bool| if b { "T" } else { "N" };
        write!(
            f,
            "rows={} batch={} k={} n={} a={} b={}{}",
            self.rows,
            self.batch,
            self.k,
            self.n,
            t(self.a_transposed),
            t(self.b_transposed),
            if self.b_texture { " tex" } else { "" }
        )
    }
}

/// The rows a product with a symbolic row count is timed at when the run
/// being tuned has few enough for the few-rows variant: one sequence of
/// 128 tokens.
pub const SYMBOLIC_ROWS_TIMED: usize = 128;

/// A matmul of the sizes one run binds (a symbolic row count the few-rows
/// variant would take becomes [`SYMBOLIC_ROWS_TIMED`]): what the tuner
/// builds and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatmulCase {
    /// The signature it stands for.
    pub signature: MatmulSignature,
    /// Output rows (the batch folded in when B is one matrix).
    pub m: usize,
    /// Products when B is a batch of matrices.
    pub batch: usize,
    /// The contraction length.
    pub k: usize,
    /// Output columns.
    pub n: usize,
}

/// An operand read through a swap of its last two axes, and what it reads.
fn peel_transpose(ir: &Ir, node: NodeId) -> (NodeId, bool) {
    if let Op::Permute { perm } = &ir.node(node).op {
        let r = perm.len();
        let swaps_last_two = r >= 2 && perm[r - 2] == r - 1 && perm[r - 1] == r - 2;
        if swaps_last_two && perm[..r - 2].iter().enumerate().all(|(i, &p)| p == i) {
            return (ir.operands(node)[0], true);
        }
    }
    (node, false)
}

impl MatmulSignature {
    /// The signature of matmul `mm` in a compile that reads 2-D weights
    /// from textures when `textures`; `None` for a node that is not a matmul.
    pub fn of(ir: &Ir, mm: NodeId, textures: bool) -> Option<MatmulSignature> {
        Some(Self::sizes(ir, mm, textures)?.0)
    }

    /// [`MatmulSignature::of`] with the sizes `bindings` give (`None` when
    /// a size is unbound there).
    pub fn case(ir: &Ir, mm: NodeId, textures: bool, bindings: &Bindings) -> Option<MatmulCase> {
        let (signature, [m, batch, k, n]) = Self::sizes(ir, mm, textures)?;
        let eval = |d: &Dim| d.eval(bindings);
        let mut rows = eval(&m)?;
        // A kernel for any number of rows runs only past the few-rows
        // variant's reach (runs of at most `FEW_ROWS` rows take that one),
        // and its choice stands for every run: timed on a short run, it
        // would be picked for a case it never meets (a matrix-vector
        // kernel for every batch of long sequences).
        if signature.rows == SizeKey::Symbolic && rows <= FEW_ROWS {
            rows = SYMBOLIC_ROWS_TIMED;
        }
        Some(MatmulCase { signature, m: rows, batch: eval(&batch)?, k: eval(&k)?, n: eval(&n)? })
    }

    fn sizes(ir: &Ir, mm: NodeId, textures: bool) -> Option<(MatmulSignature, [Dim; 4])> {
        if !matches!(ir.node(mm).op, Op::MatMul) {
            return None;
        }
        let ops = ir.operands(mm);
        let out = &ir.node(mm).ty.shape;
        let r = out.len();
        let a_shape = &ir.node(*ops.first()?).ty.shape;
        if r < 2 || a_shape.is_empty() {
            return None;
        }
        let (_, a_transposed) = peel_transpose(ir, ops[0]);
        let (b_src, b_transposed) = peel_transpose(ir, ops[1]);
        let b_is_matrix = ir.node(ops[1]).ty.rank() == 2;
        let b_texture = textures && b_is_matrix && matches!(ir.node(b_src).op, Op::Weight { .. });
        let (m, batch) = if b_is_matrix {
            (Dim::product(&out[..r - 1]), Dim::new(1))
        } else {
            (out[r - 2].clone(), Dim::product(&out[..r - 2]))
        };
        let (k, n) = (a_shape[a_shape.len() - 1].clone(), out[r - 1].clone());
        let exact = |d: &Dim| d.as_static().map_or(SizeKey::Symbolic, SizeKey::Exact);
        let bucket = |d: &Dim| d.as_static().map_or(SizeKey::Symbolic, |v| SizeKey::Bucket(v.next_power_of_two()));
        let signature = MatmulSignature {
            rows: bucket(&m),
            batch: bucket(&batch),
            k: exact(&k),
            n: exact(&n),
            a_transposed,
            b_transposed,
            b_texture,
        };
        Some((signature, [m, batch, k, n]))
    }
}

/// The kernels worth timing for a case on `target`, the compiler's own
/// pick first (so a tie keeps it). Register blocks on CPU drivers (the
/// subgroup-shared ones when subgroups are 8 or 16 lanes), workgroup tiles and
/// register blocks on GPUs.
pub fn candidates(target: &Target, case: &MatmulCase, rule: MatmulKernel, mode: TuneMode) -> Vec<MatmulKernel> {
    let reg = |tm, tn, wx, wy, subgroup_a| MatmulKernel::Register { tm, tn, wx, wy, subgroup_a };
    let mut out = vec![rule];
    let cpu = target.kind == AdapterKind::Cpu;
    let lanes = shared_a_lanes(target.subgroup_size);
    let rows = (case.m * case.batch).max(1);
    if rows <= 8 {
        out.push(register_vector(case.m.max(1) as u32));
    }
    if let Some(l) = lanes.filter(|_| rows <= 16) {
        out.push(register_vector_shared(case.m.max(1) as u32, l));
    }
    if cpu {
        out.extend([REGISTER, REGISTER_HALF]);
        if let Some(l) = lanes {
            out.extend([register_subgroup(l), reg(8, 8, l, 4, true)]);
        }
        if mode == TuneMode::Full {
            out.extend([REGISTER_QUARTER, REGISTER_NARROW, REGISTER_SMALL, reg(12, 16, 8, 8, false)]);
            if let Some(l) = lanes {
                out.extend([reg(16, 8, l, 2, true), reg(32, 8, l, 2, true), reg(8, 16, l, 4, true)]);
            }
        }
    } else {
        out.extend([TILED, MatmulKernel::Tiled { tile: 16, tm: 2 }, REGISTER]);
        if mode == TuneMode::Full {
            out.extend([MatmulKernel::Tiled { tile: 64, tm: 4 }, REGISTER_SMALL]);
        }
    }
    let mut seen = Vec::new();
    out.retain(|k| {
        let new = !seen.contains(k);
        seen.push(*k);
        new
    });
    out
}

/// The measured choice per signature, for one device.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TuningTable {
    /// Signature (its `Display` form) to kernel.
    pub matmul: BTreeMap<String, MatmulKernel>,
}

impl TuningTable {
    /// The measured kernel for matmul `mm` (in a compile reading weights
    /// from textures when `textures`), if the table has one.
    pub fn matmul_for(&self, ir: &Ir, mm: NodeId, textures: bool) -> Option<MatmulKernel> {
        self.matmul.get(&MatmulSignature::of(ir, mm, textures)?.to_string()).copied()
    }
}

impl fmt::Display for MatmulKernel {
    /// `register 16x8 8x4 sub`, `tiled 32 4`: the cache file's spelling and
    /// `wgraph bench --profile`'s.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MatmulKernel::Register { tm, tn, wx, wy, subgroup_a } => {
                write!(f, "register {tm}x{tn} {wx}x{wy}{}", if subgroup_a { " sub" } else { "" })
            }
            MatmulKernel::Tiled { tile, tm } => write!(f, "tiled {tile} {tm}"),
        }
    }
}

impl FromStr for MatmulKernel {
    type Err = String;

    fn from_str(s: &str) -> Result<MatmulKernel, String> {
        let words: Vec<&str> = s.split_whitespace().collect();
        let pair = |w: &str| -> Option<(u32, u32)> {
            let (a, b) = w.split_once('x')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        };
        let positive = |v: u32| v > 0;
        let kernel = match words[..] {
            ["register", block, group] | ["register", block, group, "sub"] => {
                let ((tm, tn), (wx, wy)) = pair(block).zip(pair(group)).ok_or_else(|| s.to_string())?;
                MatmulKernel::Register { tm, tn, wx, wy, subgroup_a: words.len() == 4 }
            }
            ["tiled", tile, tm] => MatmulKernel::Tiled {
                tile: tile.parse().map_err(|_| s.to_string())?,
                tm: tm.parse().map_err(|_| s.to_string())?,
            },
            _ => return Err(s.to_string()),
        };
        let sizes_ok = match kernel {
            MatmulKernel::Register { tm, tn, wx, wy, .. } => [tm, tn, wx, wy].into_iter().all(positive),
            MatmulKernel::Tiled { tile, tm } => positive(tile) && positive(tm) && tile % tm == 0,
        };
        sizes_ok.then_some(kernel).ok_or_else(|| s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::REGISTER_SUBGROUP;
    use crate::graph::{ops, DType, Graph};

    #[test]
    fn kernels_read_back_as_written_and_bad_spellings_are_refused() {
        for k in [REGISTER, REGISTER_SUBGROUP, REGISTER_SMALL, register_vector(3), TILED] {
            assert_eq!(k.to_string().parse::<MatmulKernel>(), Ok(k), "{k}");
        }
        assert_eq!(REGISTER_SUBGROUP.to_string(), "register 16x8 8x4 sub");
        for bad in ["", "register", "register 0x8 8x4", "register 8x8", "tiled 32 5", "gpu 1 2", "register 8x8 8x4 x"] {
            assert!(bad.parse::<MatmulKernel>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn signatures_see_transposed_weights_folded_rows_and_symbols() {
        let g = Graph::new("sig");
        let x = g.input("x", DType::F32, [Dim::sym("batch"), Dim::new(100), Dim::new(384)]);
        let w = g.weight("w", DType::F32, [1536usize, 384]);
        let y = ops::linear(&x, &w, None);
        let q = g.input("q", DType::F32, [Dim::new(2), Dim::new(12), Dim::new(32)]);
        let s = ops::matmul(&q, &ops::transpose(&q, 1, 2));
        g.output([y.clone(), s.clone()]).unwrap();
        let ir = g.ir().unwrap().clone();
        let linear = ir
            .graph
            .node_indices()
            .find(|&n| {
                matches!(ir.node(n).op, Op::MatMul)
                    && ir.node(n).ty.rank() == 3
                    && ir.node(n).ty.shape[2] == Dim::new(1536)
            })
            .unwrap();
        let sig = MatmulSignature::of(&ir, linear, true).unwrap();
        assert_eq!(sig.to_string(), "rows=sym batch=<=1 k=384 n=1536 a=N b=T tex");
        assert_eq!(
            MatmulSignature::of(&ir, linear, false).unwrap().to_string(),
            "rows=sym batch=<=1 k=384 n=1536 a=N b=T"
        );
        let mut bindings = Bindings::default();
        bindings.insert("batch".into(), 3);
        let case = MatmulSignature::case(&ir, linear, true, &bindings).unwrap();
        assert_eq!((case.m, case.batch, case.k, case.n), (300, 1, 384, 1536));
        let scores = s.node_id().unwrap();
        let sig = MatmulSignature::of(&ir, scores, true).unwrap();
        assert_eq!(sig.to_string(), "rows=<=16 batch=<=2 k=32 n=12 a=N b=T");
        let mut table = TuningTable::default();
        table.matmul.insert(sig.to_string(), REGISTER_SMALL);
        assert_eq!(table.matmul_for(&ir, scores, true), Some(REGISTER_SMALL));
        assert_eq!(table.matmul_for(&ir, linear, true), None);
    }

    #[test]
    fn candidates_start_with_the_rule_and_repeat_nothing() {
        let cpu = Target { kind: AdapterKind::Cpu, subgroup_size: Some(8), ..Target::portable() };
        let sig = MatmulSignature {
            rows: SizeKey::Symbolic,
            batch: SizeKey::Bucket(1),
            k: SizeKey::Exact(384),
            n: SizeKey::Exact(1536),
            a_transposed: false,
            b_transposed: true,
            b_texture: true,
        };
        let case = MatmulCase { signature: sig, m: 1024, batch: 1, k: 384, n: 1536 };
        let quick = candidates(&cpu, &case, REGISTER_SUBGROUP, TuneMode::Quick);
        assert_eq!(quick[0], REGISTER_SUBGROUP);
        let full = candidates(&cpu, &case, REGISTER_SUBGROUP, TuneMode::Full);
        assert!(full.len() > quick.len() && quick.iter().all(|k| full.contains(k)));
        for list in [&quick, &full] {
            let mut sorted: Vec<String> = list.iter().map(|k| k.to_string()).collect();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "{list:?}");
        }
        let no_subgroups = Target { kind: AdapterKind::Cpu, subgroup_size: None, ..Target::portable() };
        assert!(candidates(&no_subgroups, &case, REGISTER, TuneMode::Full)
            .iter()
            .all(|k| !matches!(k, MatmulKernel::Register { subgroup_a: true, .. })));
        let one_row = MatmulCase { m: 1, ..case.clone() };
        assert!(candidates(&cpu, &one_row, REGISTER, TuneMode::Quick).contains(&register_vector(1)));
        // 16-lane subgroups (512-bit vectors): subgroup blocks 16 lanes wide only.
        let wide = Target { subgroup_size: Some(16), ..cpu };
        let shared: Vec<MatmulKernel> = candidates(&wide, &case, REGISTER, TuneMode::Full)
            .into_iter()
            .filter(|k| matches!(k, MatmulKernel::Register { subgroup_a: true, .. }))
            .collect();
        assert!(shared.contains(&register_subgroup(16)), "{shared:?}");
        assert!(shared.iter().all(|k| matches!(k, MatmulKernel::Register { wx: 16, .. })), "{shared:?}");
    }
}
