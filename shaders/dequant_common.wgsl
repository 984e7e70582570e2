// Helpers of the dequantizing reads (ggml blocks, repacked into 32-bit
// words as compile/codegen/quant.rs describes). Included once per kernel
// that reads a quantized weight.

// The four bytes of a word, lowest first.
fn q_bytes(q: u32) -> vec4<u32> {
    return (vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(255u);
}

// The four bytes of a word as signed values.
fn q_signed(q: u32) -> vec4<f32> {
    return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(q) << vec4<u32>(24u, 16u, 8u, 0u)) >> vec4<u32>(24u));
}

// The low nibbles of a word's four bytes.
fn q_lo(q: u32) -> vec4<u32> {
    return (vec4<u32>(q) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(15u);
}

// The high nibbles of a word's four bytes.
fn q_hi(q: u32) -> vec4<u32> {
    return (vec4<u32>(q) >> vec4<u32>(4u, 12u, 20u, 28u)) & vec4<u32>(15u);
}

// Bits `first .. first + 4` of `h`, each moved to bit 4 (the fifth bit of
// a Q5 value).
fn q_bit4(h: u32, first: u32) -> vec4<u32> {
    return ((vec4<u32>(h) >> (vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u))) & vec4<u32>(1u)) << vec4<u32>(4u);
}

// Byte `i` of the words from `word` on, of row `row` (`words` is the
// weight's word accessor result for the word holding it).
fn q_byte(word: u32, i: u32) -> u32 {
    return (word >> (8u * (i % 4u))) & 255u;
}

// The f16 with bits `h` (the low 16 bits) as f32, exactly. Decoded with
// integer arithmetic: `unpack2x16float` needs a capability (f16 in f32)
// not every backend has.
fn q_f16(h: u32) -> f32 {
    let sign = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 31u;
    let m = h & 1023u;
    if (e == 0u) {
        // Zero and subnormals: m * 2^-24, exact in f32.
        return bitcast<f32>(sign | bitcast<u32>(f32(m) * 5.9604644775390625e-8));
    }
    if (e == 31u) {
        return bitcast<f32>(sign | 0x7f800000u | (m << 13u));
    }
    return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
}

// The two f16 of a word (low half first) as f32.
fn q_f16x2(q: u32) -> vec2<f32> {
    return vec2<f32>(q_f16(q & 0xffffu), q_f16(q >> 16u));
}
