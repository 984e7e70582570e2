// Word `word` of row `row` of a quantized weight: words are stored
// word-major (word w of every row, then word w + 1), so lanes reading
// neighbouring rows read neighbouring addresses.
fn qw_{{BUF}}(word: u32, row: u32) -> u32 {
    return {{BUF}}[word * {{ROWS}} + row];
}

// Element `i` of the weight (row-major, {{COLS}} values per row).
fn dq1_{{BUF}}(i: u32) -> f32 {
    let row = i / {{COLS}};
    let e = i % {{COLS}};
    let w = dq32_{{BUF}}(row, e / 32u);
    return w[(e % 32u) / 4u][e % 4u];
}
