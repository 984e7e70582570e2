// Index of the first maximum along one axis, one workgroup per output element.

{{COMMON}}
{{BINDINGS}}

const WG: u32 = {{WG}}u;
var<workgroup> best_v: array<{{T}}, {{WG}}>;
var<workgroup> best_i: array<u32, {{WG}}>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = {{ROWS}};
    let n = {{N}};
    let inner = {{INNER}};
    let row_id = flat_workgroup(wid, nwg);
    let row = min(row_id, rows - 1u);
    let base = row_start(row, n, inner);
    var bv: {{T}} = {{LOWEST}};
    var bi = 0xffffffffu;
    for (var j = lid; j < n; j += WG) {
        let x = in0[base + j * inner];
        let better = x > bv || bi == 0xffffffffu;
        bv = select(bv, x, better);
        bi = select(bi, j, better);
    }
    best_v[lid] = bv;
    best_i[lid] = bi;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let ov = best_v[lid + s];
            let oi = best_i[lid + s];
            let mine = best_i[lid];
            // Larger value wins; on ties the smaller index (the first maximum).
            let take = oi != 0xffffffffu && (mine == 0xffffffffu || ov > best_v[lid] || (ov == best_v[lid] && oi < mine));
            best_v[lid] = select(best_v[lid], ov, take);
            best_i[lid] = select(mine, oi, take);
        }
        workgroupBarrier();
    }
    if (row_id < rows && lid == 0u) {
        out[row] = i32(best_i[0]);
    }
}
