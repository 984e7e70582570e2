//! Every op case (tests/common/op_cases.rs) on the GPU against the CPU
//! interpreter: one `#[test]` per case, each on three seeds of awkward
//! shapes with broadcasting and size-1 dims, fused and unfused.

mod common;

use common::gpu::check_gpu;
use common::op_cases::{case, case_names, op_table, CASES, MIN_CASES, SEEDS};
use wgraph::Weights;

/// Runs one case on every seed; a failure names the case and the seed.
fn check_case(name: &str) {
    let case = case(name);
    let (rtol, atol) = case.tol.rtol_atol();
    for seed in SEEDS {
        let instance = case.instance(seed).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        check_gpu(&instance.graph, &Weights::new(), &instance.feed, rtol, atol, &instance.what);
    }
}

macro_rules! gpu_tests {
    ($($name:ident)*) => {
        $(
            #[test]
            fn $name() {
                check_case(stringify!($name));
            }
        )*

        /// The tests above, generated from the table.
        const GENERATED: &[&str] = &[$(stringify!($name)),*];
    };
}

op_table!(case_names; gpu_tests);

#[test]
fn every_case_has_a_gpu_test() {
    assert!(GENERATED.len() >= MIN_CASES, "{} GPU op tests, expected at least {MIN_CASES}", GENERATED.len());
    let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    assert_eq!(GENERATED, names.as_slice());
}

/// `gelu_tanh` as `0.5 * x * (1 + tanh(u))` cancels in `1 + tanh(u)` for
/// negative `x`: near `x = -5` it is up to 75% off, which the op test's
/// absolute tolerance does not catch (the backward tests, which compare the
/// loss relative to its terms, do at size-1 shapes). So the kernel computes
/// `x * sigmoid(2u)`. Checked down to `x = -5.5`, where the f64
/// interpreter's own cancellation stays below 1e-7.
#[test]
fn gelu_tanh_keeps_relative_precision_in_the_negative_tail() {
    let n = 221;
    let x: Vec<f32> = (0..n).map(|i| -5.5 + 0.04 * i as f32).collect();
    let g = wgraph::Graph::new("gelu_tanh_tail");
    let input = g.input("x", wgraph::DType::F32, [n]);
    g.output_named([("out", wgraph::ops::gelu(&input, wgraph::Gelu::Tanh))]).unwrap();
    let feed = [("x".to_string(), wgraph::Tensor::new([n], x).unwrap())];
    check_gpu(&g, &Weights::new(), &feed, 2e-6, 0.0, "gelu_tanh on [-5.5, 3.3)");
}
