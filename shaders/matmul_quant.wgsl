// A product `x @ Wᵀ` whose weight W stays in ggml's quantized blocks: each
// invocation computes one output column (one row of W) for TM rows of x,
// unrolled by Rust (src/compile/codegen/quant_matmul.rs): no private
// arrays, which CPU drivers keep in memory.
// It dequantizes W's row 32 values at a time (`dq32_*`, from the weight's
// block type) and uses them for all TM rows, so the weight is read once per
// TM rows. W's words are stored word-major, so neighbouring invocations
// (the SIMD lanes of a CPU driver) read neighbouring addresses; x's values
// are the same for every lane of a workgroup. The epilogue (bias,
// activation, residual) is fused.

{{HELPERS}}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let M = {{M}};
    let N = {{N}};
    let col = wid.x * {{WG}}u + li;
    let row0 = wid.y * {{TM}}u;
    // No early return: loads in uniform control flow with uniform
    // addresses (x's) are one load for the whole SIMD row on CPU drivers.
    // Columns and rows past the end repeat the last; they are not stored.
    let c = min(col, N - 1u);
{{ROW_BASES}}
    for (var s = 0u; s < {{CHUNKS}}; s++) {
        let w = dq32_{{W}}(c, s);
        let o = s * 32u * {{SAK}};
{{ROW_SUMS}}
    }
    if (col < N) {
{{STORES}}
    }
}
