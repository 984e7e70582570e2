//! Block formats a weight can stay in on the device: ggml's quantized
//! blocks, read by kernels that dequantize as they load (the graph still
//! computes in f32; the format is how the weight's bytes are stored).

use serde::{Deserialize, Serialize};
use std::fmt;

/// A ggml block format. Each block holds `block_elements()` values of one
/// weight row, in `block_bytes()` bytes as ggml stores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(non_camel_case_types)]
pub enum Quant {
    /// 32 signed bytes and an f16 scale.
    Q8_0,
    /// 32 nibbles offset by 8 and an f16 scale.
    Q4_0,
    /// 32 nibbles, an f16 scale and an f16 minimum.
    Q4_1,
    /// 32 five-bit values offset by 16 and an f16 scale.
    Q5_0,
    /// 32 five-bit values, an f16 scale and an f16 minimum.
    Q5_1,
    /// 256 nibbles in 8 groups with 6-bit scales and minimums.
    Q4_K,
    /// 256 five-bit values in 8 groups with 6-bit scales and minimums.
    Q5_K,
    /// 256 six-bit values in 16 groups with 8-bit scales.
    Q6_K,
}

impl Quant {
    /// Every format, in a stable order.
    pub const ALL: [Quant; 8] =
        [Quant::Q8_0, Quant::Q4_0, Quant::Q4_1, Quant::Q5_0, Quant::Q5_1, Quant::Q4_K, Quant::Q5_K, Quant::Q6_K];

    /// Values per block (a weight row is a whole number of blocks).
    pub fn block_elements(self) -> usize {
        match self {
            Quant::Q8_0 | Quant::Q4_0 | Quant::Q4_1 | Quant::Q5_0 | Quant::Q5_1 => 32,
            Quant::Q4_K | Quant::Q5_K | Quant::Q6_K => 256,
        }
    }

    /// Bytes per block as ggml stores it.
    pub fn block_bytes(self) -> usize {
        match self {
            Quant::Q8_0 => 34,
            Quant::Q4_0 => 18,
            Quant::Q4_1 => 20,
            Quant::Q5_0 => 22,
            Quant::Q5_1 => 24,
            Quant::Q4_K => 144,
            Quant::Q5_K => 176,
            Quant::Q6_K => 210,
        }
    }

    /// ggml's name (`Q4_K`).
    pub fn name(self) -> &'static str {
        match self {
            Quant::Q8_0 => "Q8_0",
            Quant::Q4_0 => "Q4_0",
            Quant::Q4_1 => "Q4_1",
            Quant::Q5_0 => "Q5_0",
            Quant::Q5_1 => "Q5_1",
            Quant::Q4_K => "Q4_K",
            Quant::Q5_K => "Q5_K",
            Quant::Q6_K => "Q6_K",
        }
    }
}

impl fmt::Display for Quant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
