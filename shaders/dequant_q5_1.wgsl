// Q5_1 blocks (6 words: the f16 scale and minimum, the 32 fifth bits, 16
// bytes of nibbles as Q4_0's); product rounded before the minimum is added.
fn dq32_{{BUF}}(row: u32, s: u32) -> array<vec4<f32>, 8> {
    var w: array<vec4<f32>, 8>;
    let b = s * 6u;
    let dm = q_f16x2(qw_{{BUF}}(b, row));
    let h = qw_{{BUF}}(b + 1u, row);
    for (var t = 0u; t < 4u; t++) {
        let q = qw_{{BUF}}(b + 2u + t, row);
        let lo = vec4<f32>(q_lo(q) | q_bit4(h, 4u * t)) * dm.x;
        let hi = vec4<f32>(q_hi(q) | q_bit4(h, 16u + 4u * t)) * dm.x;
        w[t] = lo + dm.y;
        w[t + 4u] = hi + dm.y;
    }
    return w;
}
