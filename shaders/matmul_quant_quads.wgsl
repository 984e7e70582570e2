// A product `x @ Wᵀ` for one row of x (a decode step) whose weight W stays
// in ggml's quantized blocks, held as a texture: each invocation computes
// four neighbouring output columns (four rows of W). Their words share
// texels, so W is fetched a texel per word for all four (`dq32_*_l0..3`
// read the same texel's four lanes), and x's 32 values of a chunk are
// loaded once for the four columns. The epilogue is fused.

{{HELPERS}}
{{LANE_READERS}}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let M = {{M}};
    let N = {{N}};
    let row = wid.y;
    let quad = wid.x * {{WG}}u + li;
    // No early return (uniform control flow for x's uniform loads); quads
    // past the end repeat the last and store nothing.
    let q = min(quad, N / 4u - 1u);
{{X_BASE}}
    var acc0 = 0.0;
    var acc1 = 0.0;
    var acc2 = 0.0;
    var acc3 = 0.0;
    for (var s = 0u; s < {{CHUNKS}}; s++) {
{{X_LOADS}}
        let w0 = dq32_{{W}}_l0(q, s);
        acc0 += {{SUM_0}};
        let w1 = dq32_{{W}}_l1(q, s);
        acc1 += {{SUM_1}};
        let w2 = dq32_{{W}}_l2(q, s);
        acc2 += {{SUM_2}};
        let w3 = dq32_{{W}}_l3(q, s);
        acc3 += {{SUM_3}};
    }
    if (quad < N / 4u && row < M) {
        let col = 4u * quad;
        out[row * N + col] = epilogue(acc0, row, col);
        out[row * N + col + 1u] = epilogue(acc1, row, col + 1u);
        out[row * N + col + 2u] = epilogue(acc2, row, col + 2u);
        out[row * N + col + 3u] = epilogue(acc3, row, col + 3u);
    }
}
