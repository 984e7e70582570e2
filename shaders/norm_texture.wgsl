// LayerNorm (two-pass mean and biased variance) or RMSNorm over the last
// axis, one row per invocation, for CPU drivers: the row, gamma and beta
// are read from textures of four values a texel (`FOLD` rows of the input
// to a texture row), which each SIMD lane fetches with vector loads where
// storage-buffer loads go lane by lane; a row needs no workgroup memory
// and no barrier. Same arithmetic as norm.wgsl, in four partial sums.

{{COMMON}}
{{BINDINGS}}

const RMS: bool = {{RMS}};
// Texels per row.
const N4: u32 = {{N4}}u;
const FOLD: u32 = {{FOLD}}u;

fn sum4(v: vec4<f32>) -> f32 {
    return (v.x + v.y) + (v.z + v.w);
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let rows = {{ROWS}};
    let eps = {{EPS}};
    let n = f32(N4 * 4u);
    let row_id = flat_workgroup(wid, nwg) * {{WG}}u + lid;
    let row = min(row_id, rows - 1u);
    let origin = vec2<u32>((row % FOLD) * N4, row / FOLD);
    var mean = 0.0;
    if (!RMS) {
        var s = vec4<f32>(0.0);
        for (var j = 0u; j < N4; j++) {
            s += textureLoad(in0, origin + vec2<u32>(j, 0u));
        }
        mean = sum4(s) / n;
        // One correction pass: the mean of the residuals is the rounding
        // error of the first mean, so rows of equal values centre to zero.
        var c = vec4<f32>(0.0);
        for (var j = 0u; j < N4; j++) {
            c += textureLoad(in0, origin + vec2<u32>(j, 0u)) - mean;
        }
        mean += sum4(c) / n;
    }
    var q = vec4<f32>(0.0);
    for (var j = 0u; j < N4; j++) {
        let d = textureLoad(in0, origin + vec2<u32>(j, 0u)) - mean;
        q += d * d;
    }
    let inv = inverseSqrt(sum4(q) / n + eps);
    if (row_id < rows) {
        let base = row * N4 * 4u;
        for (var j = 0u; j < N4; j++) {
            let x = textureLoad(in0, origin + vec2<u32>(j, 0u));
            let y = (x - mean) * inv * textureLoad(in1, vec2<u32>(j, 0u)) + {{BETA}};
            out[base + j * 4u] = y.x;
            out[base + j * 4u + 1u] = y.y;
            out[base + j * 4u + 2u] = y.z;
            out[base + j * 4u + 3u] = y.w;
        }
    }
}
