// Workgroup reductions shared by the row kernels (softmax, norms,
// reductions). One workgroup handles one row; every invocation calls these
// in uniform control flow. `op` is a constant at every call site, so the
// driver's inlining folds the switch away.

const WG: u32 = {{WG}}u;
var<workgroup> red: array<{{T}}, {{WG}}>;

const SUM: u32 = 0u;
const MAX: u32 = 1u;
const MIN: u32 = 2u;

// Max and min by explicit comparison (no reliance on NaN/Inf semantics).
fn combine(a: {{T}}, b: {{T}}, op: u32) -> {{T}} {
    switch op {
        case MAX: { return select(a, b, b > a); }
        case MIN: { return select(a, b, b < a); }
        default: { return a + b; }
    }
}

// Every invocation's `v` folded with `op`; every invocation gets the result.
fn reduce_workgroup(v: {{T}}, lid: u32, op: u32) -> {{T}} {
    red[lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (lid < s) {
            red[lid] = combine(red[lid], red[lid + s], op);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_sum(v: {{T}}, lid: u32) -> {{T}} {
    return reduce_workgroup(v, lid, SUM);
}

fn reduce_max(v: {{T}}, lid: u32) -> {{T}} {
    return reduce_workgroup(v, lid, MAX);
}

fn reduce_min(v: {{T}}, lid: u32) -> {{T}} {
    return reduce_workgroup(v, lid, MIN);
}
