// Scatter-add (the adjoint of gather), without float atomics: one
// workgroup per output row (`outer` block `o`, row `j` along the axis), each
// invocation owning the row's columns `lid, lid + WG, ...`. The workgroup
// walks the indices in chunks of WG: each invocation loads one index into
// workgroup memory, and when any index of the chunk names row `j`, every
// invocation adds the matching update rows to its columns in increasing
// index position. Each output element is written only by its owner and
// summed in a fixed order, so reruns are bitwise identical.
//
// Out-of-range indices are clamped into 0..size, the rows the GPU gather
// reads for them (graph inputs are checked on the host before upload).
//
// in0: updates [outer, M, inner]; in1: indices [M]; out: [outer, size, inner].

{{COMMON}}
{{BINDINGS}}

const WG: u32 = {{WG}}u;
// A clamped index per invocation; `NONE` past the last index.
const NONE: u32 = 0xffffffffu;
var<workgroup> chunk: array<u32, {{WG}}>;
// Whether the current chunk names this row, double-buffered by chunk
// parity so one flag is cleared while the other is read.
var<workgroup> hit: array<atomic<u32>, 2>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = {{ROWS}};
    let size = {{SIZE}};
    let count = {{M}};
    let inner = {{INNER}};
    let row_id = flat_workgroup(wid, nwg);
    // Workgroups past the last row still take part in the barriers.
    let valid = row_id < rows;
    let row = min(row_id, rows - 1u);
    let j = row % size;
    let out_base = row * inner;
    let upd_base = (row / size) * count * inner;
    if (valid) {
        for (var q = lid; q < inner; q += WG) {
            out[out_base + q] = {{T}}(0);
        }
    }
    var parity = 0u;
    for (var start = 0u; start < count; start += WG) {
        let m = start + lid;
        var k = NONE;
        if (m < count) {
            k = min(u32(max(i32(in1[m]), 0)), size - 1u);
        }
        chunk[lid] = k;
        if (k == j) {
            atomicStore(&hit[parity], 1u);
        }
        // The other flag was last read before the previous chunk's final
        // barrier and is next set after this chunk's: clear it now.
        if (lid == 0u) {
            atomicStore(&hit[1u - parity], 0u);
        }
        workgroupBarrier();
        if (valid && atomicLoad(&hit[parity]) != 0u) {
            let n = min(WG, count - start);
            for (var q = lid; q < inner; q += WG) {
                var acc = out[out_base + q];
                for (var c = 0u; c < n; c++) {
                    if (chunk[c] == j) {
                        acc = acc + in0[upd_base + (start + c) * inner + q];
                    }
                }
                out[out_base + q] = acc;
            }
        }
        workgroupBarrier();
        parity = 1u - parity;
    }
}
