//! Element types the IR knows about.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The element type of a tensor.
///
/// Floating-point values of every width compute in f32 or wider; integer and
/// boolean tensors are used for token ids, masks, indices and comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// 32-bit float: what every float computes in on the GPU.
    F32,
    /// Host and interpreter only (gradient checks in double precision);
    /// GPUs have no f64 in WGSL, so the compiler refuses it.
    F64,
    /// IEEE half precision, as checkpoints store it; widened to f32 to compute.
    F16,
    /// bfloat16, as checkpoints store it; widened to f32 to compute.
    BF16,
    /// 32-bit signed integer.
    I32,
    /// 64-bit signed integer, PyTorch's default for token ids; the GPU
    /// computes it in i32 and refuses inputs outside that range.
    I64,
    /// 32-bit unsigned integer.
    U32,
    /// Truth values of masks and comparisons (one byte per element on the host).
    Bool,
}

impl DType {
    /// Every dtype, in a stable order (used by tests and dumps).
    pub const ALL: [DType; 8] =
        [DType::F32, DType::F64, DType::F16, DType::BF16, DType::I32, DType::I64, DType::U32, DType::Bool];

    /// Whether this is one of the floating-point types (f32, f64, f16, bf16).
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
    }

    /// Whether this is one of the integer types (i32, i64, u32); bool is not.
    pub fn is_int(self) -> bool {
        matches!(self, DType::I32 | DType::I64 | DType::U32)
    }

    /// Whether this is [`DType::Bool`].
    pub fn is_bool(self) -> bool {
        self == DType::Bool
    }

    /// Bytes per element as stored on the host and in safetensors files.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 | DType::I32 | DType::U32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::I64 | DType::F64 => 8,
            DType::Bool => 1,
        }
    }

    /// Short lowercase name, as printed in dumps (`f32`, `i64`, `bool`).
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U32 => "u32",
            DType::Bool => "bool",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
