// Scatter-add (the adjoint of gather), without float atomics. Each
// workgroup owns a block of PER consecutive output rows (`outer` slice `o`,
// rows `j0..j1` along the axis), each invocation the block's columns
// `lid, lid + WG, ...`. The workgroup walks the indices in chunks of
// CHUNK = LOADS * WG (each invocation loads LOADS of them into workgroup
// memory: fewer barriers per index); when any index of a chunk falls in
// the block, every invocation adds the matching update rows to its columns
// in increasing index position. Each output element is written only by its
// owner and summed in a fixed order, so reruns are bitwise identical.
// Every workgroup scans all the indices, so blocks of PER rows divide that
// cost by PER.
//
// Out-of-range indices are clamped into 0..size, the rows the GPU gather
// reads for them (graph inputs are checked on the host before upload).
//
// in0: updates [outer, M, inner]; in1: indices [M]; out: [outer, size, inner].

{{COMMON}}
{{BINDINGS}}

const WG: u32 = {{WG}}u;
const PER: u32 = {{PER}}u;
const LOADS: u32 = 4u;
const CHUNK: u32 = LOADS * WG;
// Clamped indices, LOADS per invocation; `NONE` past the last index.
const NONE: u32 = 0xffffffffu;
var<workgroup> chunk: array<u32, CHUNK>;
// Whether the current chunk falls in this block, double-buffered by chunk
// parity so one flag is cleared while the other is read.
var<workgroup> hit: array<atomic<u32>, 2>;

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let groups = {{GROUPS}};
    let blocks = {{BLOCKS}};
    let size = {{SIZE}};
    let count = {{M}};
    let inner = {{INNER}};
    let group_id = flat_workgroup(wid, nwg);
    // Workgroups past the last block still take part in the barriers.
    let valid = group_id < groups;
    let group = min(group_id, groups - 1u);
    let o = group / blocks;
    let j0 = (group % blocks) * PER;
    let j1 = min(j0 + PER, size);
    let out_base = o * size * inner;
    let upd_base = o * count * inner;
    if (valid) {
        for (var j = j0; j < j1; j++) {
            for (var q = lid; q < inner; q += WG) {
                out[out_base + j * inner + q] = {{T}}(0);
            }
        }
    }
    var parity = 0u;
    for (var start = 0u; start < count; start += CHUNK) {
        var any = false;
        for (var l = 0u; l < LOADS; l++) {
            let slot = l * WG + lid;
            let m = start + slot;
            var k = NONE;
            if (m < count) {
                k = min(u32(max(i32(in1[m]), 0)), size - 1u);
            }
            chunk[slot] = k;
            any = any || (k >= j0 && k < j1);
        }
        if (any) {
            atomicStore(&hit[parity], 1u);
        }
        // The other flag was last read before the previous chunk's final
        // barrier and is next set after this chunk's: clear it now.
        if (lid == 0u) {
            atomicStore(&hit[1u - parity], 0u);
        }
        workgroupBarrier();
        if (valid && atomicLoad(&hit[parity]) != 0u) {
            let n = min(CHUNK, count - start);
            for (var c = 0u; c < n; c++) {
                let j = chunk[c];
                if (j >= j0 && j < j1) {
                    let dst = out_base + j * inner;
                    let src = upd_base + (start + c) * inner;
                    for (var q = lid; q < inner; q += WG) {
                        out[dst + q] = out[dst + q] + in0[src + q];
                    }
                }
            }
        }
        workgroupBarrier();
        parity = 1u - parity;
    }
}
