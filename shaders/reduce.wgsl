// Sum, mean, max or min along one axis, one workgroup per output element.
// LOAD reads element j of the row, or computes it (a fused prologue).

{{COMMON}}
{{BINDINGS}}
{{ROW_COMMON}}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = {{ROWS}};
    let n = {{N}};
    let inner = {{INNER}};
    let row_id = flat_workgroup(wid, nwg);
    let row = min(row_id, rows - 1u);
    let base = row_start(row, n, inner);
    var acc: {{T}} = {{INIT}};
    for (var j = lid; j < n; j += WG) {
        {{LOAD}}
        acc = {{COMBINE}};
    }
    let total = {{REDUCE}}(acc, lid);
    if (row_id < rows && lid == 0u) {
        out[row] = {{FINISH}};
    }
}
