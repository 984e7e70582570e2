//! Quantized weights on the device: the word layout their ggml blocks are
//! repacked into at upload, and the WGSL that reads values back out of it.
//!
//! A block becomes a whole number of 32-bit words (Q8_0, Q4_0 and Q5_0 get
//! two bytes of padding after their f16 scale so their quants start on a
//! word; Q6_K two bytes at its end), and the weight's words are stored
//! word-major: word `w` of every row, then word `w + 1`. Lanes computing
//! neighbouring output columns (neighbouring weight rows) then read
//! neighbouring addresses, which CPU drivers load as vectors instead of
//! gathering lane by lane. The bytes are ggml's, moved, never requantized.

use super::shaders::{self, fill, Template};
use crate::compile::error::CompileError;
use crate::graph::Quant;

/// Words one block takes on the device.
pub fn block_words(q: Quant) -> usize {
    padded_bytes(q) / 4
}

/// A block's bytes after padding, and where the padding goes.
fn padded_bytes(q: Quant) -> usize {
    q.block_bytes().next_multiple_of(4)
}

/// Where a block's two bytes of padding go: after the leading f16 scale
/// (so the quants start on a word), or at the end.
fn padding_at(q: Quant) -> usize {
    match q {
        Quant::Q8_0 | Quant::Q4_0 | Quant::Q5_0 => 2,
        _ => q.block_bytes(),
    }
}

/// The device words of a `rows`-row weight whose ggml blocks are `bytes`
/// (row-major, rows of whole blocks).
pub fn pack(q: Quant, rows: usize, bytes: &[u8]) -> Vec<u32> {
    let (bb, bw) = (q.block_bytes(), block_words(q));
    let blocks_per_row = (bytes.len() / bb).checked_div(rows).unwrap_or(0);
    let row_words = blocks_per_row * bw;
    let mut out = vec![0u32; rows * row_words];
    let pad = padding_at(q);
    let mut padded = vec![0u8; padded_bytes(q)];
    for (i, block) in bytes.chunks_exact(bb).enumerate() {
        let (row, c) = (i / blocks_per_row, i % blocks_per_row);
        padded.fill(0);
        padded[..pad].copy_from_slice(&block[..pad]);
        let after = padded.len() - (bb - pad);
        padded[after..].copy_from_slice(&block[pad..]);
        for (t, word) in padded.chunks_exact(4).enumerate() {
            out[(c * bw + t) * rows + row] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
        }
    }
    out
}

/// The ggml blocks of `rows` rows back from their device words (the
/// inverse of [`pack`]).
pub fn unpack(q: Quant, rows: usize, words: &[u32]) -> Vec<u8> {
    let (bb, bw) = (q.block_bytes(), block_words(q));
    let row_words = words.len().checked_div(rows).unwrap_or(0);
    let blocks_per_row = row_words / bw;
    let pad = padding_at(q);
    let mut out = Vec::with_capacity(rows * blocks_per_row * bb);
    let mut padded = vec![0u8; padded_bytes(q)];
    for row in 0..rows {
        for c in 0..blocks_per_row {
            for t in 0..bw {
                padded[4 * t..4 * t + 4].copy_from_slice(&words[(c * bw + t) * rows + row].to_le_bytes());
            }
            out.extend_from_slice(&padded[..pad]);
            out.extend_from_slice(&padded[padded.len() - (bb - pad)..]);
        }
    }
    out
}

/// The per-type template of `dq32_BUF(row, s)`: values `32 s .. 32 s + 32`
/// of row `row`, as eight vec4.
fn chunk_template(q: Quant) -> Template {
    match q {
        Quant::Q8_0 => shaders::DEQUANT_Q8_0,
        Quant::Q4_0 => shaders::DEQUANT_Q4_0,
        Quant::Q4_1 => shaders::DEQUANT_Q4_1,
        Quant::Q5_0 => shaders::DEQUANT_Q5_0,
        Quant::Q5_1 => shaders::DEQUANT_Q5_1,
        Quant::Q4_K => shaders::DEQUANT_Q4_K,
        Quant::Q5_K => shaders::DEQUANT_Q5_K,
        Quant::Q6_K => shaders::DEQUANT_Q6_K,
    }
}

/// Words a `rows` x `cols` weight of `q` takes on the device.
pub fn device_words(q: Quant, rows: usize, cols: usize) -> usize {
    rows * (cols / q.block_elements()) * block_words(q)
}

/// The WGSL reading the quantized weight bound as `buf` (`rows` x
/// `cols`): `qw_BUF(word, row)`, `dq32_BUF(row, s)` and `dq1_BUF(i)`
/// (element `i`, row-major), from a buffer of words or, with
/// `texture_width`, a texture of that many texels a row. Needs
/// [`common_wgsl`] once in the kernel.
pub fn reader_wgsl(
    q: Quant,
    buf: &str,
    rows: usize,
    cols: usize,
    texture_width: Option<u32>,
) -> Result<String, CompileError> {
    let (rows, cols) = (format!("{rows}u"), format!("{cols}u"));
    let mut s = match texture_width {
        Some(w) => fill(
            shaders::DEQUANT_WORDS_TEXTURE,
            &[("BUF", buf), ("ROWS", &rows), ("COLS", &cols), ("WIDTH", &format!("{w}u"))],
        )?,
        None => fill(shaders::DEQUANT_WORDS, &[("BUF", buf), ("ROWS", &rows), ("COLS", &cols)])?,
    };
    s.push_str(&fill(chunk_template(q), &[("BUF", buf)])?);
    if matches!(q, Quant::Q4_K | Quant::Q5_K) {
        s.push_str(&fill(shaders::DEQUANT_K_SCALES, &[("BUF", buf)])?);
    }
    Ok(s)
}

/// The WGSL reading lane `lane` (0..4) of the quantized weight bound as the
/// texture `tex` (`rows` x `cols`, `rows` a multiple of four, `width`
/// texels a texture row): `dq32_TEX_lLANE(quad, s)`, values `32 s .. 32 s +
/// 32` of row `4 quad + lane`. The four lanes fetch the same texels.
pub fn lane_reader_wgsl(q: Quant, tex: &str, rows: usize, width: u32, lane: usize) -> Result<String, CompileError> {
    let buf = format!("{tex}_l{lane}");
    let mut s = fill(
        shaders::DEQUANT_WORDS_TEXTURE_LANE,
        &[
            ("BUF", &buf),
            ("TEX", tex),
            ("QUADS", &format!("{}u", rows / 4)),
            ("WIDTH", &format!("{width}u")),
            ("LANE", ["x", "y", "z", "w"][lane % 4]),
            ("LANE_INDEX", &format!("{lane}")),
        ],
    )?;
    s.push_str(&fill(chunk_template(q), &[("BUF", &buf)])?);
    if matches!(q, Quant::Q4_K | Quant::Q5_K) {
        s.push_str(&fill(shaders::DEQUANT_K_SCALES, &[("BUF", &buf)])?);
    }
    Ok(s)
}

/// The helpers every reader uses.
pub fn common_wgsl() -> &'static str {
    shaders::DEQUANT_COMMON.source
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packing_pads_blocks_to_words_and_round_trips() {
        for q in Quant::ALL {
            let rows = 3;
            let blocks = 2;
            let bytes: Vec<u8> = (0..rows * blocks * q.block_bytes()).map(|i| (i * 37 % 251) as u8).collect();
            let words = pack(q, rows, &bytes);
            assert_eq!(words.len(), rows * blocks * block_words(q), "{q}");
            assert_eq!(unpack(q, rows, &words), bytes, "{q}");
        }
        // Q8_0: word 0 of row 1 holds its scale; its first quants start the next word.
        let bytes: Vec<u8> = (0..2 * 34).map(|i| i as u8).collect();
        let words = pack(Quant::Q8_0, 2, &bytes);
        assert_eq!(words[1], u32::from_le_bytes([34, 35, 0, 0]));
        assert_eq!(words[2], u32::from_le_bytes([2, 3, 4, 5]), "word 1 of row 0, after word 0 of every row");
    }
}
