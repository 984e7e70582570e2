// LayerNorm (two-pass mean and biased variance) or RMSNorm over the last
// axis, one workgroup per row.

{{COMMON}}
{{BINDINGS}}
{{ROW_COMMON}}

const RMS: bool = {{RMS}};

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = {{ROWS}};
    let n = {{N}};
    let eps = {{EPS}};
    let row_id = flat_workgroup(wid, nwg);
    let valid = row_id < rows;
    let base = min(row_id, rows - 1u) * n;
    var mean = 0.0;
    if (!RMS) {
        var s = 0.0;
        for (var j = lid; j < n; j += WG) {
            s += in0[base + j];
        }
        mean = reduce_sum(s, lid) / f32(n);
        // One correction pass: the mean of the residuals is the rounding
        // error of the first mean, so rows of equal values centre to zero.
        var c = 0.0;
        for (var j = lid; j < n; j += WG) {
            c += in0[base + j] - mean;
        }
        mean += reduce_sum(c, lid) / f32(n);
    }
    var q = 0.0;
    for (var j = lid; j < n; j += WG) {
        let d = in0[base + j] - mean;
        q += d * d;
    }
    let inv = inverseSqrt(reduce_sum(q, lid) / f32(n) + eps);
    if (valid) {
        for (var j = lid; j < n; j += WG) {
            out[base + j] = (in0[base + j] - mean) * inv * in1[j] + {{BETA}};
        }
    }
}
