//! Kernel tiers: the kernels tuned for speed, or smaller ones that a
//! driver compiles quickly. On drivers that compile each pipeline with LLVM
//! at its first dispatch (lavapipe), compile time grows with the unrolled
//! block, and the tuned kernels of a MiniLM (four subgroup matmul blocks of
//! 16x8 accumulators and the 16-row fused attention) make most of a cold
//! first run; the quick tier's 4x8 blocks compile several times faster and
//! run somewhat slower (BENCHMARKS.md, "Cold start and warm start").
//! `TieredModel` answers with the quick tier while the tuned one compiles
//! in the background.

use super::codegen::MatmulKernel;

/// Which kernels to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KernelTier {
    /// The fastest kernels measured on the adapter, whatever they cost to compile.
    #[default]
    Tuned,
    /// Every unrolled block capped at [`QUICK_ACCUMULATORS`] values per
    /// invocation: quick to compile, somewhat slower to run.
    Quick,
    /// The tuned products, the fused attention at the quick tier's rows:
    /// for a generation's prefill, which runs once per prompt, where the
    /// 16-row attention is most of a decoder's cold first token (its LLVM
    /// compile) and saves little of the prefill's run.
    CompactAttention,
}

/// The most accumulators one invocation of a quick matmul keeps (a 4x8
/// block): lavapipe compiles it several times faster than 16x8
/// (BENCHMARKS.md, "Matmul kernel configurations (examples/matmul_tune.rs)").
pub const QUICK_ACCUMULATORS: u32 = 32;

/// The most query rows one invocation of a quick fused attention computes:
/// each row unrolls the head dims twice (scores and values).
pub const QUICK_ATTENTION_ROWS: usize = 4;

impl KernelTier {
    /// `kernel` as this tier generates it: for the quick tier, a register
    /// block capped at [`QUICK_ACCUMULATORS`] (at most 8 columns, then as
    /// many rows as fit), with the same workgroup shape so subgroup
    /// sharing still lines up. Tiled kernels keep their shape.
    pub fn matmul(self, kernel: MatmulKernel) -> MatmulKernel {
        match (self, kernel) {
            (KernelTier::Quick, MatmulKernel::Register { tm, tn, wx, wy, subgroup_a })
                if tm * tn > QUICK_ACCUMULATORS =>
            {
                let tn = tn.min(8);
                let tm = tm.min(QUICK_ACCUMULATORS / tn).max(1);
                MatmulKernel::Register { tm, tn, wx, wy, subgroup_a }
            }
            _ => kernel,
        }
    }

    /// Query rows per fused-attention invocation, from the tuned `rows`.
    pub fn attention_rows(self, rows: usize) -> usize {
        match self {
            KernelTier::Tuned => rows,
            KernelTier::Quick | KernelTier::CompactAttention => rows.min(QUICK_ATTENTION_ROWS),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{register_vector, REGISTER, REGISTER_SMALL, REGISTER_SUBGROUP, TILED};

    #[test]
    fn quick_blocks_hold_at_most_32_accumulators() {
        let quick = |k| KernelTier::Quick.matmul(k);
        assert_eq!(quick(REGISTER_SUBGROUP), MatmulKernel::Register { tm: 4, tn: 8, wx: 8, wy: 4, subgroup_a: true });
        assert_eq!(quick(REGISTER), MatmulKernel::Register { tm: 4, tn: 8, wx: 8, wy: 8, subgroup_a: false });
        // Already small: unchanged.
        for k in [REGISTER_SMALL, register_vector(8), TILED] {
            assert_eq!(quick(k), k);
        }
        assert_eq!(KernelTier::Tuned.matmul(REGISTER_SUBGROUP), REGISTER_SUBGROUP);
        assert_eq!((KernelTier::Quick.attention_rows(16), KernelTier::Quick.attention_rows(2)), (4, 2));
        assert_eq!(KernelTier::Tuned.attention_rows(16), 16);
        assert_eq!(KernelTier::CompactAttention.attention_rows(16), 4);
        assert_eq!(KernelTier::CompactAttention.matmul(REGISTER_SUBGROUP), REGISTER_SUBGROUP);
    }
}
