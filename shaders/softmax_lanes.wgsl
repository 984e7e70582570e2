// Softmax along a short axis, one row per invocation (CPU drivers): the
// lanes of a SIMD vector take neighbouring rows, with no workgroup
// barriers. Max-subtracted, the maximum by explicit comparison, as the
// workgroup-per-row kernel.

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
    var m = -3.402823466e38;
    for (var j = 0u; j < n; j++) {
        let x = in0[base + j * inner];
        m = select(m, x, x > m);
    }
    var s = 0.0;
    for (var j = 0u; j < n; j++) {
        s += exp(in0[base + j * inner] - m);
    }
    if (row_id < rows) {
        for (var j = 0u; j < n; j++) {
            out[base + j * inner] = exp(in0[base + j * inner] - m) / s;
        }
    }
}
