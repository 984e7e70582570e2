//! The interpreter on the op table (tests/common/op_cases.rs): every case
//! with a reference in tests/fixtures/ops/ops.safetensors (made by
//! tests/fixtures/generate_ops.py, under the case's name) must match
//! PyTorch's float64 result rounded to float32, and every case must run on
//! every seed with finite results.

mod common;

use common::op_cases::{OpCase, CASES, MIN_CASES, SEEDS};
use common::{assert_close, open_fixture};
use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use wgraph::{ops, DType, Graph, Interpreter, Tensor, Weights};

const FIXTURE: &str = "ops/ops.safetensors";

/// A floor on the cases generate_ops.py stores (their number when written);
/// new fixture cases need no change here; never lower it.
const MIN_FIXTURE_CASES: usize = 59;

/// Runs `check` on every case it is given, then fails naming each case that
/// panicked (the panic messages above name the case and the inputs).
fn every<'a>(cases: impl IntoIterator<Item = &'a OpCase>, check: impl Fn(&OpCase)) -> usize {
    let mut ran = 0;
    let mut failed = Vec::new();
    for case in cases {
        ran += 1;
        if catch_unwind(AssertUnwindSafe(|| check(case))).is_err() {
            failed.push(case.name);
        }
    }
    assert!(failed.is_empty(), "{} of {ran} cases failed: {}", failed.len(), failed.join(", "));
    ran
}

/// Loads `<case>.in*`, builds the case on them, runs it and compares with `<case>.out`.
fn check_fixture(fixtures: &Weights, case: &OpCase) {
    let mut inputs = Vec::new();
    while let Ok(t) = fixtures.read(&format!("{}.in{}", case.name, inputs.len())) {
        inputs.push(t);
    }
    let want = fixtures.read(&format!("{}.out", case.name)).unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let instance = case
        .instance_on(inputs, format!("{} on the PyTorch fixture", case.name))
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let got = Interpreter::new()
        .run(&instance.graph, &Weights::new(), instance.feed)
        .unwrap_or_else(|e| panic!("{}: {e}", instance.what));
    assert_close(got.get("out").unwrap(), &want, 1e-6, 1e-7, &instance.what);
}

#[test]
fn interpreter_matches_pytorch() {
    let fixtures = open_fixture(FIXTURE);
    let stored: BTreeSet<&str> = fixtures.names().filter_map(|n| n.strip_suffix(".out")).collect();
    let rows: BTreeSet<&str> = CASES.iter().map(|c| c.name).collect();
    let orphans: Vec<&str> = stored.difference(&rows).copied().collect();
    assert!(orphans.is_empty(), "{FIXTURE} has cases with no row in tests/common/op_cases.rs: {orphans:?}");
    let ran = every(CASES.iter().filter(|c| stored.contains(c.name)), |case| check_fixture(&fixtures, case));
    assert!(ran >= MIN_FIXTURE_CASES, "compared {ran} cases with PyTorch, expected at least {MIN_FIXTURE_CASES}");
}

/// Every case on every seed, without a device: the builder accepts the
/// generator's shapes, the values stay in the op's domain (finite results),
/// and a `differentiable` case has a float output and a float input.
#[test]
fn every_case_runs_on_the_interpreter() {
    let names: BTreeSet<&str> = CASES.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), CASES.len(), "case names are unique");
    let ran = every(CASES, |case| {
        for seed in SEEDS {
            let instance = case.instance(seed).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let float_input = instance.feed.iter().any(|(_, t)| t.dtype().is_float());
            let got = Interpreter::new()
                .run(&instance.graph, &Weights::new(), instance.feed)
                .unwrap_or_else(|e| panic!("{}: {e}", instance.what));
            let out = got.get("out").unwrap();
            let values = out.to_f64_vec();
            assert!(!values.is_empty(), "{}: empty output", instance.what);
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                panic!("{}: output element {i} is {}: inputs outside the op's domain", instance.what, values[i]);
            }
            if case.differentiable {
                assert!(out.dtype().is_float() && float_input, "{}: differentiable needs float in and out", case.name);
            }
        }
    });
    assert!(ran >= MIN_CASES, "ran {ran} cases, expected at least {MIN_CASES}");
}

/// Values worked out by hand, independent of PyTorch.
#[test]
fn hand_computed_attention_block() {
    let g = Graph::new("hand");
    let q = g.input("q", DType::F32, [1usize, 2]);
    let k = g.input("k", DType::F32, [2usize, 2]);
    // scores = q k^T / sqrt(2) = [[1, 0]] / sqrt(2) with q = [1, 0], k = I
    let scores = ops::matmul(&q, &ops::transpose(&k, 0, 1)) * (1.0 / 2f64.sqrt());
    let p = ops::softmax(&scores, -1);
    g.output_named([("p", p)]).unwrap();
    let out = Interpreter::new()
        .run(
            &g,
            &Weights::new(),
            [
                ("q", Tensor::new([1, 2], vec![1f32, 0.0]).unwrap()),
                ("k", Tensor::new([2, 2], vec![1f32, 0.0, 0.0, 1.0]).unwrap()),
            ],
        )
        .unwrap();
    let e = (1.0f64 / 2f64.sqrt()).exp();
    let want = Tensor::new([1, 2], vec![(e / (e + 1.0)) as f32, (1.0 / (e + 1.0)) as f32]).unwrap();
    assert_close(out.get("p").unwrap(), &want, 0.0, 0.0, "softmax of [1/sqrt2, 0]");
}
