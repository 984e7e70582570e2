// Q6_K super-blocks (53 words: 128 bytes of low nibbles, 64 bytes of high
// bit pairs, 16 signed byte scales, the f16 d, 2 bytes of padding). Chunk
// `s` of 32 values is group `g = s % 4` of half `s % 8 / 4` of super-block
// `s / 8`: nibble bytes from `32 * (g % 2)` of the half's 64 (low nibbles
// for groups 0 and 1), bits `2g, 2g + 1` of the half's 32 high-bit bytes,
// one scale per 16 values; values offset by 32, `d * scale` rounded first.
fn dq32_{{BUF}}(row: u32, s: u32) -> array<vec4<f32>, 8> {
    var w: array<vec4<f32>, 8>;
    let b = (s / 8u) * 53u;
    let sub = s % 8u;
    let half = sub / 4u;
    let g = sub % 4u;
    let d = q_f16x2(qw_{{BUF}}(b + 52u, row)).x;
    let sc_lo = d * f32(bitcast<i32>(q_byte(qw_{{BUF}}(b + 48u + sub / 2u, row), 2u * sub) << 24u) >> 24u);
    let sc_hi = d * f32(bitcast<i32>(q_byte(qw_{{BUF}}(b + 48u + sub / 2u, row), 2u * sub + 1u) << 24u) >> 24u);
    for (var t = 0u; t < 8u; t++) {
        let ql = qw_{{BUF}}(b + 16u * half + 8u * (g % 2u) + t, row);
        let low = select(q_lo(ql), q_hi(ql), g >= 2u);
        let high = (q_bytes(qw_{{BUF}}(b + 32u + 8u * half + t, row)) >> vec4<u32>(2u * g)) & vec4<u32>(3u);
        let q = vec4<f32>(vec4<i32>(low | (high << vec4<u32>(4u))) - vec4<i32>(32));
        w[t] = select(sc_lo, sc_hi, t >= 4u) * q;
    }
    return w;
}
