//! Host-side dequantization of ggml tensors to f32, bit for bit as ggml's
//! reference `dequantize_row_*` functions compute it: the plain float
//! types and the 32-value block formats here, the 256-value K-quants in
//! `dequant_k`. Every product and sum is one f32 operation in ggml's
//! order, so each value rounds exactly as ggml's does. (A half scale times
//! a small integer quant, or times a sub-block scale and then a quant, has
//! too few significant bits to round in f32; only adding a block's minimum
//! rounds, and ggml adds it last, as this code does.)

use super::dequant_k;
use super::scalars::f16_at;
use super::types::GgmlType;

/// Why bytes cannot be dequantized.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum DequantError {
    /// A type wgraph does not dequantize.
    #[error("cannot dequantize {ggml_type} tensors; the supported types are {}", supported.join(", "))]
    Unsupported {
        /// The type asked for.
        ggml_type: GgmlType,
        /// The names of the types that are supported.
        supported: Vec<&'static str>,
    },
    /// An element count that is not a whole number of blocks.
    #[error(
        "{ggml_type} stores blocks of {expected_multiple_of} values, but {got} elements is not a multiple of that"
    )]
    PartialBlock {
        /// The type.
        ggml_type: GgmlType,
        /// Its block size, which the element count must be a multiple of.
        expected_multiple_of: usize,
        /// The element count asked for.
        got: usize,
    },
    /// Data of the wrong length for the element count.
    #[error("{elements} {ggml_type} values take {expected} bytes, but the data has {got}")]
    Length {
        /// The type.
        ggml_type: GgmlType,
        /// The element count asked for.
        elements: usize,
        /// Bytes those elements take (saturating at `usize::MAX`).
        expected: usize,
        /// Bytes given.
        got: usize,
    },
}

/// Dequantizes `elements` values of type `t` stored in `data` (ggml's
/// little-endian block layout, blocks back to back) to f32.
pub fn dequantize(t: GgmlType, data: &[u8], elements: usize) -> Result<Vec<f32>, DequantError> {
    if !t.is_supported() {
        return Err(DequantError::Unsupported { ggml_type: t, supported: GgmlType::supported_names() });
    }
    let block = t.block_size() as usize;
    if !elements.is_multiple_of(block) {
        return Err(DequantError::PartialBlock { ggml_type: t, expected_multiple_of: block, got: elements });
    }
    let expected = (elements / block).saturating_mul(t.type_size() as usize);
    if data.len() != expected {
        return Err(DequantError::Length { ggml_type: t, elements, expected, got: data.len() });
    }
    let mut out = vec![0f32; elements];
    match t {
        GgmlType::F32 => blocks(data, &mut out, |b: &[u8; 4], y: &mut [f32; 1]| y[0] = f32::from_le_bytes(*b)),
        GgmlType::F16 => blocks(data, &mut out, |b: &[u8; 2], y: &mut [f32; 1]| y[0] = f16_at(b, 0)),
        GgmlType::BF16 => blocks(data, &mut out, |b: &[u8; 2], y: &mut [f32; 1]| y[0] = bf16(b)),
        GgmlType::Q4_0 => blocks(data, &mut out, q4_0),
        GgmlType::Q4_1 => blocks(data, &mut out, q4_1),
        GgmlType::Q5_0 => blocks(data, &mut out, q5_0),
        GgmlType::Q5_1 => blocks(data, &mut out, q5_1),
        GgmlType::Q8_0 => blocks(data, &mut out, q8_0),
        GgmlType::Q4_K => blocks(data, &mut out, dequant_k::q4_k),
        GgmlType::Q5_K => blocks(data, &mut out, dequant_k::q5_k),
        GgmlType::Q6_K => blocks(data, &mut out, dequant_k::q6_k),
        _ => unreachable!("is_supported() lists exactly the types matched above"),
    }
    Ok(out)
}

/// Runs `decode` on every block: `BYTES` bytes in, `N` values out. The
/// sizes are the block structs' and must agree with the type table; the
/// assert catches a decoder whose sizes do not (the caller has already
/// checked `data` against the table).
fn blocks<const BYTES: usize, const N: usize>(
    data: &[u8],
    out: &mut [f32],
    decode: impl Fn(&[u8; BYTES], &mut [f32; N]),
) {
    let (src, src_rest) = data.as_chunks::<BYTES>();
    let (dst, dst_rest) = out.as_chunks_mut::<N>();
    assert!(src_rest.is_empty() && dst_rest.is_empty() && src.len() == dst.len(), "decoder block geometry");
    for (b, y) in src.iter().zip(dst) {
        decode(b, y);
    }
}

/// A bf16 is the top half of an f32: ggml widens it by a shift alone.
/// `half::bf16::to_f32` would set the quiet bit of a signalling NaN,
/// which ggml keeps.
fn bf16(b: &[u8; 2]) -> f32 {
    f32::from_bits(u32::from(u16::from_le_bytes(*b)) << 16)
}

/// Q4_0: an f16 scale, then 16 bytes whose low nibbles are values 0..16
/// and high nibbles values 16..32, each stored with an offset of 8.
fn q4_0(b: &[u8; 18], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (j, &q) in b[2..].iter().enumerate() {
        y[j] = (i32::from(q & 0x0F) - 8) as f32 * d;
        y[j + 16] = (i32::from(q >> 4) - 8) as f32 * d;
    }
}

/// Q4_1: an f16 scale and an f16 minimum, then nibbles as Q4_0's but
/// unsigned; ggml rounds the product before adding the minimum.
fn q4_1(b: &[u8; 20], y: &mut [f32; 32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    for (j, &q) in b[4..].iter().enumerate() {
        y[j] = f32::from(q & 0x0F) * d + m;
        y[j + 16] = f32::from(q >> 4) * d + m;
    }
}

/// The 5-bit quants of a Q5 block: nibbles as Q4's, the fifth bit of
/// value `j` in bit `j` of a little-endian u32.
fn five_bit(qh: &[u8], qs: &[u8]) -> [u8; 32] {
    let high = u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]);
    let bit = |j: usize| ((high >> j) as u8 & 1) << 4;
    let mut q = [0u8; 32];
    for (j, &byte) in qs.iter().enumerate() {
        q[j] = (byte & 0x0F) | bit(j);
        q[j + 16] = (byte >> 4) | bit(j + 16);
    }
    q
}

/// Q5_0: an f16 scale, the high bits, the nibbles; values offset by 16.
fn q5_0(b: &[u8; 22], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (v, q) in y.iter_mut().zip(five_bit(&b[2..6], &b[6..])) {
        *v = (i32::from(q) - 16) as f32 * d;
    }
}

/// Q5_1: an f16 scale and minimum, the high bits, the nibbles; unsigned
/// values, product rounded before the minimum is added.
fn q5_1(b: &[u8; 24], y: &mut [f32; 32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    for (v, q) in y.iter_mut().zip(five_bit(&b[4..8], &b[8..])) {
        *v = f32::from(q) * d + m;
    }
}

/// Q8_0: an f16 scale, then one signed byte per value.
fn q8_0(b: &[u8; 34], y: &mut [f32; 32]) {
    let d = f16_at(b, 0);
    for (v, &q) in y.iter_mut().zip(&b[2..]) {
        *v = f32::from(q as i8) * d;
    }
}
