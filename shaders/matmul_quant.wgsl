// A product `x @ Wᵀ` whose weight W stays in ggml's quantized blocks: each
// invocation computes one output column (one row of W) for TM rows of x.
// It dequantizes W's row 32 values at a time (`dq32_*`, from the weight's
// block type) and uses them for all TM rows, so the weight is read once per
// TM rows. W's words are stored word-major, so neighbouring invocations
// (the SIMD lanes of a CPU driver) read neighbouring addresses; x's values
// are the same for every lane of a workgroup. The epilogue (bias,
// activation, residual) is fused.

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

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let M = {{M}};
    let N = {{N}};
    let col = wid.x * {{WG}}u + li;
    let row0 = wid.y * {{TM}}u;
    if (col >= N) {
        return;
    }
    // Rows past the end repeat the last one; their results are not stored.
    var base: array<u32, {{TM}}>;
    for (var i = 0u; i < {{TM}}u; i++) {
        base[i] = x_row(min(row0 + i, M - 1u));
    }
    var acc: array<f32, {{TM}}>;
    for (var s = 0u; s < {{CHUNKS}}; s++) {
        let w = dq32_{{W}}(col, s);
        for (var i = 0u; i < {{TM}}u; i++) {
            let o = base[i] + s * 32u * {{SAK}};
            var sum = 0.0;
            for (var t = 0u; t < 8u; t++) {
                let k = o + 4u * t * {{SAK}};
                let x = vec4<f32>({{X}}[k], {{X}}[k + {{SAK}}], {{X}}[k + 2u * {{SAK}}], {{X}}[k + 3u * {{SAK}}]);
                sum += dot(x, w[t]);
            }
            acc[i] += sum;
        }
    }
    for (var i = 0u; i < {{TM}}u; i++) {
        let r = row0 + i;
        if (r < M) {
            out[r * N + col] = epilogue(acc[i], r, col);
        }
    }
}
