// One lane of a quantized weight held as a texture, for kernels computing
// four neighbouring rows per invocation: word `word` of row
// `4 * quad + {{LANE_INDEX}}` (the layout of `qw_{{TEX}}`: words word-major,
// four to a texel, {{WIDTH}} texels a texture row). The weight has a multiple
// of four rows, so rows `4 * quad ..` share each texel: one fetch gives a
// word of all four, where one row per invocation fetches a texel for each.
fn qw_{{BUF}}(word: u32, quad: u32) -> u32 {
    let t = word * {{QUADS}} + quad;
    return textureLoad({{TEX}}, vec2<u32>(t % {{WIDTH}}, t / {{WIDTH}})).{{LANE}};
}
