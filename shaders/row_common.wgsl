// Workgroup reductions shared by the row kernels (softmax, norms,
// reductions). One workgroup handles one row; every invocation calls these
// in uniform control flow.

const WG: u32 = {{WG}}u;
var<workgroup> red: array<{{T}}, {{WG}}>;

fn reduce_sum(v: {{T}}, lid: u32) -> {{T}} {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = red[lid] + red[lid + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_max(v: {{T}}, lid: u32) -> {{T}} {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let other = red[lid + s];
            red[lid] = select(red[lid], other, other > red[lid]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_min(v: {{T}}, lid: u32) -> {{T}} {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            let other = red[lid + s];
            red[lid] = select(red[lid], other, other < red[lid]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}
