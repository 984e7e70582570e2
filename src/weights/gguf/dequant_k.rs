//! The K-quants: super-blocks of 256 values in sub-blocks that each have
//! their own small integer scale (and minimum), themselves scaled by the
//! block's f16 factors. Same rounding order as ggml's reference code.

use super::scalars::f16_at;

/// Scale and minimum of sub-block `j` (0..8) of a Q4_K or Q5_K block,
/// six bits each packed into 12 bytes (ggml's `get_scale_min_k4`): the
/// first four sub-blocks keep theirs in the low six bits of bytes 0..4
/// (scales) and 4..8 (minimums); the last four keep their low four bits
/// in the nibbles of bytes 8..12 and their top two bits in the spare top
/// bits of bytes 0..8.
fn scale_min(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        ((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    }
}

/// The effective scale and minimum of each sub-block of a Q4_K or Q5_K
/// block whose f16 `d` and `dmin` lead it, products rounded to f32 first
/// as ggml does (`d1 = d * sc`, `m1 = dmin * m`).
fn sub_scales(b: &[u8]) -> [(f32, f32); 8] {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    std::array::from_fn(|j| {
        let (sc, m) = scale_min(j, &b[4..16]);
        (d * f32::from(sc), dmin * f32::from(m))
    })
}

/// Sub-block `s`'s 4-bit quant `l`: sub-blocks pair up over 32 bytes,
/// the even one in the low nibbles, the odd one in the high nibbles.
fn nibble(qs: &[u8], s: usize, l: usize) -> u8 {
    (qs[32 * (s / 2) + l] >> (4 * (s % 2))) & 0x0F
}

/// Q4_K: `d`, `dmin`, the packed scales, then the nibbles.
pub(super) fn q4_k(b: &[u8; 144], y: &mut [f32; 256]) {
    let qs = &b[16..];
    for (s, (d1, m1)) in sub_scales(b).into_iter().enumerate() {
        for l in 0..32 {
            y[32 * s + l] = d1 * f32::from(nibble(qs, s, l)) - m1;
        }
    }
}

/// Q5_K: as Q4_K with a fifth bit per value: bit `s` of high-bit byte `l`
/// belongs to value `l` of sub-block `s`.
pub(super) fn q5_k(b: &[u8; 176], y: &mut [f32; 256]) {
    let (qh, qs) = (&b[16..48], &b[48..]);
    for (s, (d1, m1)) in sub_scales(b).into_iter().enumerate() {
        for l in 0..32 {
            let q = nibble(qs, s, l) | (((qh[l] >> s) & 1) << 4);
            y[32 * s + l] = d1 * f32::from(q) - m1;
        }
    }
}

/// Q6_K: low nibbles, high bit pairs, one signed byte scale per 16
/// values, then the f16 `d`. Each half of the block has its own 64 nibble
/// bytes and 32 high-bit bytes, shared by four groups of 32 values: group
/// `g` reads nibble bytes `32 * (g % 2)` onwards (low nibbles for the first
/// two groups, high for the last two) and bits `2g, 2g + 1` of the high-bit
/// bytes. Values are offset by 32; ggml rounds `d * scale` first.
pub(super) fn q6_k(b: &[u8; 210], y: &mut [f32; 256]) {
    let (ql, qh, sc) = (&b[..128], &b[128..192], &b[192..208]);
    let d = f16_at(b, 208);
    for (i, v) in y.iter_mut().enumerate() {
        let (half, g, l) = (i / 128, (i % 128) / 32, i % 32);
        let low = (ql[64 * half + 32 * (g % 2) + l] >> (4 * (g / 2))) & 0x0F;
        let high = (qh[32 * half + l] >> (2 * g)) & 3;
        let q = i32::from(low | (high << 4)) - 32;
        *v = d * f32::from(sc[i / 16] as i8) * q as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The packing ggml's quantizer writes (`quantize_row_q4_K_ref`),
    /// unpacked again for every six-bit scale and minimum.
    #[test]
    fn scale_min_unpacks_what_ggml_packs() {
        for seed in 0..64u8 {
            let ls: [u8; 8] = std::array::from_fn(|j| seed.wrapping_mul(7).wrapping_add(11 * j as u8) & 63);
            let lm: [u8; 8] = std::array::from_fn(|j| seed.wrapping_mul(13).wrapping_add(5 * j as u8 + 3) & 63);
            let mut s = [0u8; 12];
            for j in 0..8 {
                if j < 4 {
                    s[j] = ls[j];
                    s[j + 4] = lm[j];
                } else {
                    s[j + 4] = (ls[j] & 0x0F) | ((lm[j] & 0x0F) << 4);
                    s[j - 4] |= (ls[j] >> 4) << 6;
                    s[j] |= (lm[j] >> 4) << 6;
                }
            }
            for j in 0..8 {
                assert_eq!(scale_min(j, &s), (ls[j], lm[j]), "seed {seed} sub-block {j}");
            }
        }
    }
}
