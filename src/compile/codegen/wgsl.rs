//! WGSL types as values, not strings: the scalar a dtype computes in on the
//! GPU, and the shapes a binding can take.

use crate::graph::DType;
use std::fmt;

/// The WGSL scalar a dtype computes in (GPUs have no 64-bit integers and no
/// bool buffers: i64 computes in i32, bool in u32, every float in f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// Every float dtype.
    F32,
    /// i32 and i64.
    I32,
    /// u32 and bool.
    U32,
}

impl Scalar {
    /// The GPU scalar for `dtype` (f64 never reaches codegen: the compiler
    /// refuses it first).
    pub fn of(dtype: DType) -> Scalar {
        match dtype {
            DType::F32 | DType::F64 | DType::F16 | DType::BF16 => Scalar::F32,
            DType::I32 | DType::I64 => Scalar::I32,
            DType::U32 | DType::Bool => Scalar::U32,
        }
    }

    /// The WGSL spelling (`f32`).
    pub fn name(self) -> &'static str {
        match self {
            Scalar::F32 => "f32",
            Scalar::I32 => "i32",
            Scalar::U32 => "u32",
        }
    }

    /// Zero as a WGSL literal of this type.
    pub fn zero(self) -> &'static str {
        match self {
            Scalar::F32 => "0.0",
            Scalar::I32 => "0i",
            Scalar::U32 => "0u",
        }
    }

    /// The smallest finite value (the identity of a max reduction).
    pub fn lowest(self) -> &'static str {
        match self {
            Scalar::F32 => "-3.402823466e38",
            Scalar::I32 => "i32(-2147483647 - 1)",
            Scalar::U32 => "0u",
        }
    }

    /// The largest finite value (the identity of a min reduction).
    pub fn highest(self) -> &'static str {
        match self {
            Scalar::F32 => "3.402823466e38",
            Scalar::I32 => "2147483647i",
            Scalar::U32 => "4294967295u",
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a kernel binding holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// `array<T>` in a storage buffer.
    Array(Scalar),
    /// `array<vec4<f32>>`: an f32 buffer read four values at a time.
    ArrayVec4,
    /// A read-only `texture_storage_2d` of rgba32float texels: llvmpipe
    /// reads storage texels inline, without the sampler path's per-lane
    /// mip-level arithmetic and function call (BENCHMARKS.md, "Matmul
    /// kernel configurations (examples/matmul_tune.rs)").
    Texture,
    /// A read-only `texture_storage_2d` of rgba32uint texels (a quantized
    /// weight's words, four to a texel).
    TextureU32,
}

impl Binding {
    /// The declaration of binding `index` named `name` (read-only unless it is the output).
    pub fn declare(self, index: usize, name: &str, writable: bool) -> String {
        let access = if writable { "read_write" } else { "read" };
        match self {
            Binding::Array(t) => format!("@group(0) @binding({index}) var<storage, {access}> {name}: array<{t}>;\n"),
            Binding::ArrayVec4 => {
                format!("@group(0) @binding({index}) var<storage, {access}> {name}: array<vec4<f32>>;\n")
            }
            Binding::Texture => {
                format!("@group(0) @binding({index}) var {name}: texture_storage_2d<rgba32float, read>;\n")
            }
            Binding::TextureU32 => {
                format!("@group(0) @binding({index}) var {name}: texture_storage_2d<rgba32uint, read>;\n")
            }
        }
    }
}
