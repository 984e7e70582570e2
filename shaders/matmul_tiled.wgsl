// Batched matmul with classic workgroup-memory tiles: the workgroup stages
// TILE x TILE blocks of both operands, then each invocation accumulates a
// TM x TM block from workgroup memory. On discrete GPUs this beats pure
// register blocking. Operands are strided views; the epilogue is fused.

{{COMMON}}
{{BINDINGS}}

const TILE: u32 = {{TILE}}u;
const TM: u32 = {{TM}}u;
const THREADS: u32 = {{THREADS}}u;

var<workgroup> tile_a: array<f32, {{TILE2}}>;
var<workgroup> tile_b: array<f32, {{TILE2}}>;

fn epilogue(acc: f32{{EPI_ARGS}}) -> f32 {
{{EPI_BODY}}
    return {{EPI_RESULT}};
}

@compute @workgroup_size({{THREADS}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let M = {{M}};
    let N = {{N}};
    let K = {{K}};
    let batch = wid.z;
{{BATCH}}
    let side = TILE / TM;
    let ty = lid / side;
    let tx = lid % side;
    let row_base = wid.y * TILE;
    let col_base = wid.x * TILE;
    var acc: array<f32, {{TMTM}}>;
    for (var k0 = 0u; k0 < K; k0 += TILE) {
        for (var e = lid; e < TILE * TILE; e += THREADS) {
            let r = e / TILE;
            let c = e % TILE;
            let ar = row_base + r;
            let ak = k0 + c;
            let av = {{A}}[a_base + min(ar, M - 1u) * {{SAM}} + min(ak, K - 1u) * {{SAK}}];
            tile_a[e] = select(0.0, av, ar < M && ak < K);
            let bk = k0 + r;
            let bc = col_base + c;
            let bv = {{B}}[b_base + min(bk, K - 1u) * {{SBK}} + min(bc, N - 1u) * {{SBN}}];
            tile_b[e] = select(0.0, bv, bk < K && bc < N);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TILE; kk++) {
            for (var r = 0u; r < TM; r++) {
                let a = tile_a[(ty * TM + r) * TILE + kk];
                for (var c = 0u; c < TM; c++) {
                    acc[r * TM + c] = fma(a, tile_b[kk * TILE + tx * TM + c], acc[r * TM + c]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var r = 0u; r < TM; r++) {
        let row = row_base + ty * TM + r;
        for (var c = 0u; c < TM; c++) {
            let col = col_base + tx * TM + c;
            if (row < M && col < N) {
                out[o_base + row * N + col] = epilogue(acc[r * TM + c]{{EPI_CALL}});
            }
        }
    }
}
