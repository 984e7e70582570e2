// Fused attention, softmax(mask(q k^T * scale)) v, flash-style: the scores
// never reach memory. One invocation per query row (a workgroup holds WG
// consecutive rows of the flattened batch x query axis); it walks the keys
// once, keeping the running maximum score, the running sum of
// exp(score - maximum) and the weighted sum of value rows in registers,
// and rescales the sum and the accumulator whenever the maximum grows
// (online softmax). The loop is one iteration per key, the head dims are
// unrolled: llvmpipe caps an invocation's loop iterations in total, so
// nothing nests inside the key loop.
//
// Masked scores become the lowest f32, as the graphs select them, so a
// fully masked row averages all values, as the unfused softmax does.
//
// q, k and v are read in place as strided views (permuted heads); as vec4
// along the head dim when every stride allows it (VEC).

{{COMMON}}
{{BINDINGS}}

const WG: u32 = {{WG}}u;
const LOWEST: f32 = -3.402823466e38;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let r = flat_workgroup(wid, nwg) * WG + lid;
    if (r >= {{ROWS}}) {
        return;
    }
    let m_len = {{M}};
    let n = {{N}};
    let i = r % m_len;
    let batch = r / m_len;
{{BASES}}
{{LOAD_Q}}
    var run_max = LOWEST;
    var total = 0.0;
{{ACC_DECL}}
    for (var j = 0u; j < n; j = j + 1u) {
{{SCORE}}
        if (s > run_max) {
            let c = exp(run_max - s);
            total = total * c;
{{RESCALE}}
            run_max = s;
        }
        let p = exp(s - run_max);
        total = total + p;
{{ACCUMULATE}}
    }
    let inv = 1.0 / total;
    let o = r * {{DV}};
{{STORE}}
}
