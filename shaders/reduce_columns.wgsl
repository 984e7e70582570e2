// Sum, mean, max or min along an axis that is not the last (a bias
// gradient, a norm's weight gradient). A workgroup owns WX neighbouring
// output elements, so neighbouring invocations read neighbouring
// addresses; its WY rows of invocations split the axis between them and
// combine their partial results in a fixed order (deterministic).
// LOAD reads element j of the column, or computes it (a fused prologue).

{{COMMON}}
{{BINDINGS}}

const WX: u32 = {{WX}}u;
const WY: u32 = {{WY}}u;
var<workgroup> part: array<{{T}}, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = {{ROWS}};
    let n = {{N}};
    let inner = {{INNER}};
    let lx = lid % WX;
    let ly = lid / WX;
    let col = flat_workgroup(wid, nwg) * WX + lx;
    // Past the end, invocations still reach the barrier (uniform control
    // flow) and read a valid column; they store nothing.
    let row = min(col, rows - 1u);
    let base = row_start(row, n, inner);
    var acc: {{T}} = {{INIT}};
    for (var j = ly; j < n; j += WY) {
        {{LOAD}}
        acc = {{COMBINE}};
    }
    part[lid] = acc;
    workgroupBarrier();
    if (ly == 0u && col < rows) {
        acc = part[lx];
        for (var y = 1u; y < WY; y += 1u) {
            let x = part[lx + y * WX];
            acc = {{COMBINE}};
        }
        let total = acc;
        out[col] = {{FINISH}};
    }
}
