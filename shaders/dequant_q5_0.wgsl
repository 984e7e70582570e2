// Q5_0 blocks (6 words: the f16 scale, 2 bytes of padding, the 32 fifth
// bits, 16 bytes of nibbles as Q4_0's); values offset by 16.
fn dq32_{{BUF}}(row: u32, s: u32) -> array<vec4<f32>, 8> {
    var w: array<vec4<f32>, 8>;
    let b = s * 6u;
    let d = q_f16x2(qw_{{BUF}}(b, row)).x;
    let h = qw_{{BUF}}(b + 1u, row);
    for (var t = 0u; t < 4u; t++) {
        let q = qw_{{BUF}}(b + 2u + t, row);
        w[t] = (vec4<f32>(q_lo(q) | q_bit4(h, 4u * t)) - 16.0) * d;
        w[t + 4u] = (vec4<f32>(q_hi(q) | q_bit4(h, 16u + 4u * t)) - 16.0) * d;
    }
    return w;
}
