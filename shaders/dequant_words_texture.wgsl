// Word `word` of row `row` of a quantized weight held as a texture: the
// words in the buffer layout's order (word-major), four to a texel,
// {{WIDTH}} texels a texture row. CPU drivers fetch texels as vectors.
fn qw_{{BUF}}(word: u32, row: u32) -> u32 {
    let i = word * {{ROWS}} + row;
    let t = i / 4u;
    return textureLoad({{BUF}}, vec2<u32>(t % {{WIDTH}}, t / {{WIDTH}}))[i % 4u];
}

// Element `i` of the weight (row-major, {{COLS}} values per row).
fn dq1_{{BUF}}(i: u32) -> f32 {
    let row = i / {{COLS}};
    let e = i % {{COLS}};
    let w = dq32_{{BUF}}(row, e / 32u);
    return w[(e % 32u) / 4u][e % 4u];
}
