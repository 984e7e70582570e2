// Byte `i` of the 12 bytes of six-bit scales and minimums of the Q4_K or
// Q5_K super-block starting at word `b` of row `row`.
fn k_byte_{{BUF}}(b: u32, row: u32, i: u32) -> u32 {
    return q_byte(qw_{{BUF}}(b + 1u + i / 4u, row), i);
}

// ggml's get_scale_min_k4: sub-block `j`'s six-bit scale and minimum (the
// first four in the low six bits of bytes 0..8, the last four split
// between the nibbles of bytes 8..12 and the top bits of bytes 0..8).
fn k_scale_min_{{BUF}}(b: u32, row: u32, j: u32) -> vec2<u32> {
    if (j < 4u) {
        return vec2<u32>(k_byte_{{BUF}}(b, row, j) & 63u, k_byte_{{BUF}}(b, row, j + 4u) & 63u);
    }
    let packed = k_byte_{{BUF}}(b, row, j + 4u);
    let sc = (packed & 15u) | ((k_byte_{{BUF}}(b, row, j - 4u) >> 6u) << 4u);
    let mn = (packed >> 4u) | ((k_byte_{{BUF}}(b, row, j) >> 6u) << 4u);
    return vec2<u32>(sc, mn);
}
