// Q8_0 blocks (9 words: the f16 scale, 2 bytes of padding, 32 signed bytes).
fn dq32_{{BUF}}(row: u32, s: u32) -> array<vec4<f32>, 8> {
    var w: array<vec4<f32>, 8>;
    let b = s * 9u;
    let d = q_f16x2(qw_{{BUF}}(b, row)).x;
    for (var t = 0u; t < 8u; t++) {
        w[t] = q_signed(qw_{{BUF}}(b + 1u + t, row)) * d;
    }
    return w;
}
