// What every quantized product kernel (matmul_quant, matmul_quant_quads)
// declares before its own code: the shared helpers, the bindings, the
// fused epilogue and where a row of x starts.

{{COMMON}}
{{BINDINGS}}

// The fused epilogue for one element.
fn epilogue(acc: f32, rowf: u32, col: u32) -> f32 {
{{EPI_BODY}}
    return {{EPI_RESULT}};
}

// Where row `rowf` of x starts (x is read along k with stride {{SAK}}).
fn x_row(rowf: u32) -> u32 {
{{X_ROW}}
}
