// Direct 1-D convolution with zero padding, one invocation per output
// element of [batch, c_out, len_out].

{{COMMON}}
{{BINDINGS}}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    let count = {{COUNT}};
    if (i >= count) {
        return;
    }
    let len_in = {{LEN_IN}};
    let len_out = {{LEN_OUT}};
    let c_in_per_group = {{CIN_G}}u;
    let c_out_per_group = {{COUT_G}}u;
    let k_size = {{K}}u;
    let c_out = {{C_OUT}}u;
    let t = i % len_out;
    let co = (i / len_out) % c_out;
    let nb = i / (len_out * c_out);
    let g = co / c_out_per_group;
    var acc = {{BIAS}};
    for (var ci = 0u; ci < c_in_per_group; ci++) {
        let cx = g * c_in_per_group + ci;
        let x_base = (nb * {{C_IN}}u + cx) * len_in;
        let w_base = (co * c_in_per_group + ci) * k_size;
        for (var kk = 0u; kk < k_size; kk++) {
            let pos = i32(t * {{STRIDE}}u + kk * {{DILATION}}u) - {{PADDING}};
            if (pos >= 0 && u32(pos) < len_in) {
                acc = fma(in0[x_base + u32(pos)], in1[w_base + kk], acc);
            }
        }
    }
    out[i] = acc;
}
