// Q4_1 blocks (5 words: the f16 scale and minimum, 16 bytes of nibbles as
// Q4_0's); the product is rounded before the minimum is added, as ggml does.
fn dq32_{{BUF}}(row: u32, s: u32) -> array<vec4<f32>, 8> {
    var w: array<vec4<f32>, 8>;
    let b = s * 5u;
    let dm = q_f16x2(qw_{{BUF}}(b, row));
    for (var t = 0u; t < 4u; t++) {
        let q = qw_{{BUF}}(b + 1u + t, row);
        let lo = vec4<f32>(q_lo(q)) * dm.x;
        let hi = vec4<f32>(q_hi(q)) * dm.x;
        w[t] = lo + dm.y;
        w[t + 4u] = hi + dm.y;
    }
    return w;
}
