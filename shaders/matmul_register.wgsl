// Batched matmul with register blocking and no workgroup memory: each
// invocation accumulates a TM x TN block, rows and columns interleaved
// across the workgroup so neighbouring invocations read neighbouring
// elements. Operands are strided views (transposes are read in place).
// On CPU drivers (lavapipe) this beats shared-memory tiling.

{{COMMON}}
{{BINDINGS}}

const TM: u32 = {{TM}}u;
const TN: u32 = {{TN}}u;
const WX: u32 = {{WX}}u;
const WY: u32 = {{WY}}u;

// The fused epilogue (bias, activation, scaling, masking) for one element.
fn epilogue(acc: f32{{EPI_ARGS}}) -> f32 {
{{EPI_BODY}}
    return {{EPI_RESULT}};
}

@compute @workgroup_size({{WX}}, {{WY}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let M = {{M}};
    let N = {{N}};
    let K = {{K}};
    let batch = wid.z;
{{BATCH}}
    let row0 = wid.y * WY * TM + lid.y;
    let col0 = wid.x * WX * TN + lid.x;
    var acc: array<f32, {{TMN}}>;
    for (var k = 0u; k < K; k++) {
        var a: array<f32, {{TM}}>;
        var b: array<f32, {{TN}}>;
        for (var r = 0u; r < TM; r++) {
            let row = min(row0 + r * WY, M - 1u);
            a[r] = {{A}}[a_base + row * {{SAM}} + k * {{SAK}}];
        }
        for (var c = 0u; c < TN; c++) {
            let col = min(col0 + c * WX, N - 1u);
            b[c] = {{B}}[b_base + k * {{SBK}} + col * {{SBN}}];
        }
        for (var r = 0u; r < TM; r++) {
            for (var c = 0u; c < TN; c++) {
                acc[r * TN + c] = fma(a[r], b[c], acc[r * TN + c]);
            }
        }
    }
    for (var r = 0u; r < TM; r++) {
        let row = row0 + r * WY;
        for (var c = 0u; c < TN; c++) {
            let col = col0 + c * WX;
            if (row < M && col < N) {
                out[o_base + row * N + col] = epilogue(acc[r * TN + c]{{EPI_CALL}});
            }
        }
    }
}
