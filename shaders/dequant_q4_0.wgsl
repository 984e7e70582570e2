// Q4_0 blocks (5 words: the f16 scale, 2 bytes of padding, 16 bytes of
// nibbles: value j in the low nibble of byte j, value j + 16 in its high one).
fn dq32_{{BUF}}(row: u32, s: u32) -> array<vec4<f32>, 8> {
    var w: array<vec4<f32>, 8>;
    let b = s * 5u;
    let d = q_f16x2(qw_{{BUF}}(b, row)).x;
    for (var t = 0u; t < 4u; t++) {
        let q = qw_{{BUF}}(b + 1u + t, row);
        w[t] = (vec4<f32>(q_lo(q)) - 8.0) * d;
        w[t + 4u] = (vec4<f32>(q_hi(q)) - 8.0) * d;
    }
    return w;
}
