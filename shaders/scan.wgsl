// Inclusive prefix sum (cumsum) along one axis, one workgroup per row. The
// row is walked in chunks of WG elements: each chunk is scanned in
// workgroup memory (Hillis-Steele, log2(WG) steps), offset by the carry of
// the chunks before it. Sums happen in a fixed order, so results are the
// same on every run.

{{COMMON}}
{{BINDINGS}}

const WG: u32 = {{WG}}u;
var<workgroup> lane: array<{{T}}, {{WG}}>;

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
    var carry = {{T}}(0);
    for (var start = 0u; start < n; start += WG) {
        let j = start + lid;
        let inside = j < n;
        lane[lid] = select({{T}}(0), in0[base + min(j, n - 1u) * inner], inside);
        workgroupBarrier();
        for (var step = 1u; step < WG; step = step << 1u) {
            let add = select({{T}}(0), lane[max(lid, step) - step], lid >= step);
            workgroupBarrier();
            lane[lid] = lane[lid] + add;
            workgroupBarrier();
        }
        if (valid && inside) {
            out[base + j * inner] = carry + lane[lid];
        }
        carry = carry + lane[WG - 1u];
        workgroupBarrier();
    }
}
