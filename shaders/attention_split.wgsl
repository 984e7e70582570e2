// Fused attention for a few query rows (decoding): one workgroup per query
// row, its WG lanes splitting the keys (lane l takes keys l, l + WG, ...).
// Each lane keeps its own running maximum, sum and weighted value rows
// (online softmax, as shaders/attention.wgsl); the lanes' results are then
// rescaled to the row's maximum and summed. attention.wgsl gives a query
// row to one lane, which walks every key while the others idle: on one row
// that leaves a workgroup's SIMD lanes (llvmpipe: one vector) unused.
//
// A fully masked row averages all values, as attention.wgsl and the
// unfused softmax do: every lane's maximum stays the lowest f32, so no
// lane's sums are scaled down.

{{COMMON}}
{{BINDINGS}}

const WG: u32 = {{WG}}u;
const LOWEST: f32 = -3.402823466e38;
const DV_STEPS: u32 = {{DV_STEPS}}u;

var<workgroup> lane_max: array<f32, {{WG}}>;
var<workgroup> lane_total: array<f32, {{WG}}>;
var<workgroup> lane_acc: array<{{TY}}, {{ACC_LEN}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let m_len = {{M}};
    let n = {{N}};
    // One workgroup per query row of each batch entry; the return is
    // uniform across the workgroup.
    let w = flat_workgroup(wid, nwg);
    if (w >= {{BATCH}} * m_len) {
        return;
    }
    let batch = w / m_len;
    let first = w % m_len;
{{BASES}}
{{INIT}}
    for (var j = lid; j < n; j = j + WG) {
{{BODY}}
    }
    lane_max[lid] = max0;
    workgroupBarrier();
    var top = LOWEST;
    for (var l = 0u; l < WG; l = l + 1u) {
        top = select(top, lane_max[l], lane_max[l] > top);
    }
    let rescale = exp(max0 - top);
    lane_total[lid] = total0 * rescale;
{{PARK}}
    workgroupBarrier();
    var total = 0.0;
    for (var l = 0u; l < WG; l = l + 1u) {
        total = total + lane_total[l];
    }
    let inv = 1.0 / total;
    let o = {{OUT_ROW}};
    // Lane l sums and stores value steps l, l + WG, ...
    for (var s = lid; s < DV_STEPS; s = s + WG) {
        var acc = {{TY}}(0.0);
        for (var l = 0u; l < WG; l = l + 1u) {
            acc = acc + lane_acc[l * DV_STEPS + s];
        }
{{STORE}}
    }
}
