// Q4_K super-blocks (36 words: f16 d and dmin, 12 bytes of six-bit scales
// and minimums, 128 bytes of nibbles). Chunk `s` of 32 values is sub-block
// `s % 8` of super-block `s / 8`; sub-blocks pair up over 32 nibble bytes,
// the even one in the low nibbles.
fn dq32_{{BUF}}(row: u32, s: u32) -> array<vec4<f32>, 8> {
    var w: array<vec4<f32>, 8>;
    let b = (s / 8u) * 36u;
    let j = s % 8u;
    let dm = q_f16x2(qw_{{BUF}}(b, row));
    let sm = k_scale_min_{{BUF}}(b, row, j);
    let d1 = dm.x * f32(sm.x);
    let m1 = dm.y * f32(sm.y);
    let first = b + 4u + 8u * (j / 2u);
    for (var t = 0u; t < 8u; t++) {
        let q = qw_{{BUF}}(first + t, row);
        let n = select(q_lo(q), q_hi(q), (j % 2u) == 1u);
        w[t] = d1 * vec4<f32>(n) - m1;
    }
    return w;
}
