// Q5_K super-blocks (44 words: f16 d and dmin, 12 bytes of six-bit scales
// and minimums, 32 bytes of fifth bits, 128 bytes of nibbles as Q4_K's).
// Bit `j` of high-bit byte `l` is the fifth bit of value `l` of sub-block `j`.
fn dq32_{{BUF}}(row: u32, s: u32) -> array<vec4<f32>, 8> {
    var w: array<vec4<f32>, 8>;
    let b = (s / 8u) * 44u;
    let j = s % 8u;
    let dm = q_f16x2(qw_{{BUF}}(b, row));
    let sm = k_scale_min_{{BUF}}(b, row, j);
    let d1 = dm.x * f32(sm.x);
    let m1 = dm.y * f32(sm.y);
    let first = b + 12u + 8u * (j / 2u);
    for (var t = 0u; t < 8u; t++) {
        let q = qw_{{BUF}}(first + t, row);
        let n = select(q_lo(q), q_hi(q), (j % 2u) == 1u);
        let h = ((q_bytes(qw_{{BUF}}(b + 4u + t, row)) >> vec4<u32>(j)) & vec4<u32>(1u)) << vec4<u32>(4u);
        w[t] = d1 * vec4<f32>(n | h) - m1;
    }
    return w;
}
