// Softmax along one axis, one workgroup per row: max-subtracted, with the
// maximum taken by explicit comparison (no reliance on NaN/Inf semantics).

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
    let valid = row_id < rows;
    let row = min(row_id, rows - 1u);
    let base = row_start(row, n, inner);
    var m = -3.402823466e38;
    for (var j = lid; j < n; j += WG) {
        let x = in0[base + j * inner];
        m = select(m, x, x > m);
    }
    m = reduce_max(m, lid);
    var s = 0.0;
    for (var j = lid; j < n; j += WG) {
        s += exp(in0[base + j * inner] - m);
    }
    s = reduce_sum(s, lid);
    if (valid) {
        for (var j = lid; j < n; j += WG) {
            out[base + j * inner] = exp(in0[base + j * inner] - m) / s;
        }
    }
}
