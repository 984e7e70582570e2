// The gradient of LayerNorm (or RMSNorm) with respect to its input over
// the last axis, one workgroup per row: with h = dy * gamma and xhat the
// normalised row, rstd * (h - mean(h) - xhat * mean(h * xhat)) (RMSNorm:
// no mean terms). The statistics are recomputed as norm.wgsl computes
// them, so the row needs nothing saved from the forward pass.

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
            s += {{X}}[base + j];
        }
        mean = reduce_sum(s, lid) / f32(n);
        var c = 0.0;
        for (var j = lid; j < n; j += WG) {
            c += {{X}}[base + j] - mean;
        }
        mean += reduce_sum(c, lid) / f32(n);
    }
    var q = 0.0;
    for (var j = lid; j < n; j += WG) {
        let d = {{X}}[base + j] - mean;
        q += d * d;
    }
    let inv = inverseSqrt(reduce_sum(q, lid) / f32(n) + eps);
    var sh = 0.0;
    var shx = 0.0;
    for (var j = lid; j < n; j += WG) {
        let h = {{DY}}[base + j] * {{GAMMA}}[j];
        sh += h;
        shx += h * ({{X}}[base + j] - mean) * inv;
    }
    // Both sums in uniform control flow; RMSNorm drops the mean of h.
    let h_mean = select(reduce_sum(sh, lid) / f32(n), 0.0, RMS);
    let hx_mean = reduce_sum(shx, lid) / f32(n);
    if (valid) {
        for (var j = lid; j < n; j += WG) {
            let h = {{DY}}[base + j] * {{GAMMA}}[j];
            let xhat = ({{X}}[base + j] - mean) * inv;
            out[base + j] = inv * (h - h_mean - xhat * hx_mean);
        }
    }
}
