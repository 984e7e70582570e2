// Fused attention, softmax(mask(q k^T * scale)) v, flash-style: the scores
// never reach memory. Each invocation owns TM consecutive query rows of one
// batch entry (a workgroup WG invocations of them); it walks the keys once,
// keeping per row the running maximum score, the running sum of
// exp(score - maximum) and the weighted sum of value rows in registers,
// and rescales the sum and the accumulator whenever the maximum grows
// (online softmax). Each key and value row loaded serves all TM rows. The
// loop is one iteration per key with the head dims unrolled: llvmpipe caps
// an invocation's loop iterations in total, so nothing nests inside it.
//
// Masked scores become the lowest f32, as the graphs select them, so a
// fully masked row averages all values, as the unfused softmax does. Rows
// past the end (the last block of a batch entry) compute row m - 1 again
// and store nothing.
//
// q, k and v are read in place as strided views (permuted heads); as vec4
// along the head dim when every stride allows it. With subgroups of WG
// lanes, a workgroup's lanes take consecutive blocks of one batch entry, so
// they read the same key and value rows: each lane loads a share of a row
// and `subgroupBroadcast` hands it to the others (CPU drivers turn every
// buffer load into a loop over the lanes).

{{COMMON}}
{{BINDINGS}}

const WG: u32 = {{WG}}u;
const TM: u32 = {{TM}}u;
const LOWEST: f32 = -3.402823466e38;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32{{LANE_ARG}}) {
    let m_len = {{M}};
    let n = {{N}};
    let blocks = (m_len + TM - 1u) / TM;
    // This invocation's batch entry, its first query row, and whether it
    // stores its rows (`stores`).
{{PLACE}}
{{BASES}}
{{INIT}}
    for (var j = 0u; j < n; j = j + 1u) {
{{BODY}}
    }
{{STORE}}
}
