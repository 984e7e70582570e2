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
        let instance = case.instance(seed);
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
