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
