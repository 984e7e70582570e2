// Helpers every kernel may call. Written with explicit `select` and no
// reliance on NaN/Inf propagation, which WGSL lets drivers assume away.

// The workgroup's number in a grid the runtime folds into two dimensions
// past 65,535 workgroups (src/runtime/instance.rs, `grid`).
fn flat_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}

// Where a row of a reduction along one axis starts: `n` elements along the
// axis, `inner` elements after it (its stride); row `r` counts the others.
fn row_start(r: u32, n: u32, inner: u32) -> u32 {
    return (r / inner) * n * inner + r % inner;
}

fn sigmoid(x: f32) -> f32 {
    // exp of a large positive argument overflows to inf; 1/(1+inf) = 0 is right.
    let e = exp(-abs(x));
    return select(e / (1.0 + e), 1.0 / (1.0 + e), x >= 0.0);
}

// tanh without cancellation near zero (Cephes `tanhf`: a polynomial below
// 0.625, 1 - 2/(exp(2|x|)+1) above; relative error about 1e-7).
fn tanh_safe(x: f32) -> f32 {
    let a = abs(x);
    let z = x * x;
    let small = ((((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z + 1.33314422036e-1) * z
        - 3.33332819422e-1) * z * x + x;
    let large = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
    return select(sign(x) * large, small, a < 0.625);
}

// erfc for x >= 0 (Numerical Recipes `erfcc`, fractional error < 1.2e-7).
fn erfc_pos(z: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.5 * z);
    let p = -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
        + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
    return t * exp(p);
}

fn erf(x: f32) -> f32 {
    let r = 1.0 - erfc_pos(abs(x));
    return select(-r, r, x >= 0.0);
}

// GELU with erf. For x < 0 it is 0.5 * x * erfc(-x / sqrt(2)), computed
// directly so the small negative tail keeps its relative precision.
fn gelu_erf(x: f32) -> f32 {
    let z = abs(x) * 0.70710678118654752;
    let c = erfc_pos(z);
    return select(0.5 * x * c, x - 0.5 * x * c, x >= 0.0);
}

// GELU with tanh, as x * sigmoid(2u) (= 0.5 * x * (1 + tanh(u))): 1 + tanh(u)
// cancels for negative u, losing the small negative tail's relative
// precision; the sigmoid keeps it.
fn gelu_tanh(x: f32) -> f32 {
    let u = 0.79788456080286536 * (x + 0.044715 * x * x * x);
    return x * sigmoid(2.0 * u);
}

// sin and cos to about an ulp for |x| up to 8192, on every device: WGSL
// asks only 2^-11 absolute error of its builtins (SwiftShader's are that
// coarse). Cephes `sinf`/`cosf`: x reduced by pi/4 in three parts (exact
// products for j below 8192), then a polynomial on [-pi/4, pi/4]. Past
// 8192 the builtins, which no reduction here would beat.
fn sin_poly(z: f32) -> f32 {
    let zz = z * z;
    return ((-1.9515295891e-4 * zz + 8.3321608736e-3) * zz - 1.6666654611e-1) * zz * z + z;
}

fn cos_poly(z: f32) -> f32 {
    let zz = z * z;
    return ((2.443315711809948e-5 * zz - 1.388731625493765e-3) * zz + 4.166664568298827e-2) * zz * zz - 0.5 * zz + 1.0;
}

// sin(|x| + q * pi/2) for the quadrant offset `shift` (0: sin, 1: cos).
fn sin_quadrant(a: f32, shift: u32) -> f32 {
    var j = u32(a * 1.27323954473516);
    j = j + (j & 1u);
    let y = f32(j);
    let z = ((a - y * 0.78515625) - y * 2.4187564849853515625e-4) - y * 3.77489497744594108e-8;
    let q = ((j >> 1u) + shift) & 3u;
    let r = select(sin_poly(z), cos_poly(z), (q & 1u) == 1u);
    return select(r, -r, q >= 2u);
}

fn sin_precise(x: f32) -> f32 {
    let a = abs(x);
    let s = sin_quadrant(a, 0u);
    return select(select(s, -s, x < 0.0), sin(x), !(a <= 8192.0));
}

fn cos_precise(x: f32) -> f32 {
    let a = abs(x);
    return select(sin_quadrant(a, 1u), cos(x), !(a <= 8192.0));
}

// Python's floor division; division by zero gives 0 (no traps on GPUs).
fn floor_div(a: i32, b: i32) -> i32 {
    if (b == 0) {
        return 0;
    }
    let q = a / b;
    let adjust = (a % b != 0) && ((a < 0) != (b < 0));
    return select(q, q - 1, adjust);
}

// pow with a negative base and an integral exponent, as PyTorch allows.
fn pow_signed(a: f32, b: f32) -> f32 {
    let m = pow(abs(a), b);
    let odd = abs(b - 2.0 * floor(b * 0.5)) == 1.0;
    let integral = floor(b) == b;
    return select(m, select(m, -m, odd), a < 0.0 && integral);
}
