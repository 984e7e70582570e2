//! A minimal GGUF v3 writer for tests: random ggml blocks of any type and
//! shape, so the quantized kernels meet sizes no committed fixture has.
//! Values come from the blocks (the reader and host dequantizer are
//! checked bit for bit against the `gguf` package in gguf_dequant.rs).

use super::Rng;
use std::path::Path;
use wgraph::graph::Quant;
use wgraph::weights::gguf::GgmlType;

/// Byte offsets of a block's f16 scales, kept finite and moderate.
fn scale_offsets(q: Quant) -> &'static [usize] {
    match q {
        Quant::Q8_0 | Quant::Q4_0 | Quant::Q5_0 => &[0],
        Quant::Q4_1 | Quant::Q5_1 | Quant::Q4_K | Quant::Q5_K => &[0, 2],
        Quant::Q6_K => &[208],
    }
}

/// `rows` x `cols` random blocks of `q` (cols a multiple of its block).
pub fn random_blocks(rng: &mut Rng, q: Quant, rows: usize, cols: usize) -> Vec<u8> {
    let blocks = rows * cols / q.block_elements();
    let mut bytes: Vec<u8> = (0..blocks * q.block_bytes()).map(|_| rng.next_u64() as u8).collect();
    for b in 0..blocks {
        for &o in scale_offsets(q) {
            let v = half::f16::from_f32(rng.uniform(-0.05, 0.05));
            bytes[b * q.block_bytes() + o..][..2].copy_from_slice(&v.to_le_bytes());
        }
    }
    bytes
}

/// Writes a GGUF file (architecture `test`, default alignment) holding
/// `tensors`: `(name, ggml type id, [rows, cols], bytes)`.
pub fn write_gguf(path: &Path, tensors: &[(String, GgmlType, [usize; 2], Vec<u8>)]) {
    let mut out = Vec::new();
    let string = |out: &mut Vec<u8>, s: &str| {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    };
    out.extend_from_slice(b"GGUF");
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&1u64.to_le_bytes());
    string(&mut out, "general.architecture");
    out.extend_from_slice(&8u32.to_le_bytes()); // string
    string(&mut out, "test");
    let mut offset = 0u64;
    for (name, ty, [rows, cols], bytes) in tensors {
        string(&mut out, name);
        out.extend_from_slice(&2u32.to_le_bytes());
        // ggml lists dimensions innermost first.
        out.extend_from_slice(&(*cols as u64).to_le_bytes());
        out.extend_from_slice(&(*rows as u64).to_le_bytes());
        out.extend_from_slice(&ty.id().to_le_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        offset += (bytes.len() as u64).next_multiple_of(32);
    }
    out.resize(out.len().next_multiple_of(32), 0);
    for (_, _, _, bytes) in tensors {
        out.extend_from_slice(bytes);
        out.resize(out.len().next_multiple_of(32), 0);
    }
    std::fs::write(path, out).unwrap();
}
