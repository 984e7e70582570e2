// norm_grad.wgsl's arithmetic with one row per invocation, for CPU
// drivers and short rows of a static length: the lanes of a SIMD vector
// take neighbouring rows without the five workgroup reductions (and their
// barriers) a workgroup per row needs. Each lane reads its row of x and
// dy once into private arrays; the passes after that index them with the
// same j on every lane, which CPU drivers run as vector operations where
// a second read of the buffers would be one load per lane again.

{{COMMON}}
{{BINDINGS}}

const RMS: bool = {{RMS}};
const N: u32 = {{N}};

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = {{ROWS}};
    let eps = {{EPS}};
    let row_id = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    let base = min(row_id, rows - 1u) * N;
    var x: array<f32, N>;
    var h: array<f32, N>;
    var s = 0.0;
    for (var j = 0u; j < N; j++) {
        x[j] = {{X}}[base + j];
        h[j] = {{DY}}[base + j] * {{GAMMA}}[j];
        s += x[j];
    }
    var mean = 0.0;
    if (!RMS) {
        mean = s / f32(N);
        // One correction pass, as norm.wgsl.
        var c = 0.0;
        for (var j = 0u; j < N; j++) {
            c += x[j] - mean;
        }
        mean += c / f32(N);
    }
    var q = 0.0;
    for (var j = 0u; j < N; j++) {
        let d = x[j] - mean;
        q += d * d;
    }
    let inv = inverseSqrt(q / f32(N) + eps);
    var sh = 0.0;
    var shx = 0.0;
    for (var j = 0u; j < N; j++) {
        sh += h[j];
        shx += h[j] * (x[j] - mean) * inv;
    }
    let h_mean = select(sh / f32(N), 0.0, RMS);
    let hx_mean = shx / f32(N);
    if (row_id < rows) {
        for (var j = 0u; j < N; j++) {
            out[base + j] = inv * (h[j] - h_mean - (x[j] - mean) * inv * hx_mean);
        }
    }
}
