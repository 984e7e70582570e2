// A fused elementwise kernel: one invocation per output element. The body
// (views folded into index math, fused operands computed inline) comes from
// src/compile/codegen/expr.rs.

{{COMMON}}
{{BINDINGS}}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    if (i >= {{COUNT}}) {
        return;
    }
{{BODY}}
    out[i] = {{RESULT}};
}
