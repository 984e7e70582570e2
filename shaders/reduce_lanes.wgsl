// Sum, mean, max or min along a short last axis, one row per invocation
// (CPU drivers): the lanes of a SIMD vector take neighbouring rows and
// loop over them without the workgroup barriers a workgroup per row needs.
// LOAD reads element j of the row, or computes it (a fused prologue).

{{COMMON}}
{{BINDINGS}}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = {{ROWS}};
    let n = {{N}};
    let inner = {{INNER}};
    let row_id = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    let row = min(row_id, rows - 1u);
    let base = row_start(row, n, inner);
    var acc: {{T}} = {{INIT}};
    for (var j = 0u; j < n; j++) {
        {{LOAD}}
        acc = {{COMBINE}};
    }
    let total = acc;
    if (row_id < rows) {
        out[row] = {{FINISH}};
    }
}
