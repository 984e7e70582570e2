//! The interpreter against PyTorch: every case in
//! tests/fixtures/ops/ops.safetensors (made by tests/fixtures/generate_ops.py)
//! is rebuilt here as a wgraph graph and must match PyTorch's float64 result
//! rounded to float32.

mod common;

use common::{assert_close, open_fixture};
use wgraph::graph::ops::{self, Conv1dOptions, Gelu};
use wgraph::{DType, Dim, Graph, Interpreter, Tensor, Value, Weights};

/// Loads `<case>.in*`, declares them as static-shaped inputs, builds the
/// graph with `build`, runs it and compares with `<case>.out`.
fn check(fixtures: &Weights, case: &str, build: impl FnOnce(&Graph, &[Value]) -> Value) {
    let mut inputs = Vec::new();
    while let Ok(t) = fixtures.read(&format!("{case}.in{}", inputs.len())) {
        inputs.push(t);
    }
    let want = fixtures.read(&format!("{case}.out")).unwrap_or_else(|e| panic!("{case}: {e}"));
    let g = Graph::new(case);
    let values: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| g.input(format!("in{i}"), t.dtype(), t.shape().iter().map(|&d| Dim::new(d))))
        .collect();
    let out = build(&g, &values);
    g.output_named([("out", out)]).unwrap_or_else(|e| panic!("{case}: {e}"));
    let feed = inputs.into_iter().enumerate().map(|(i, t)| (format!("in{i}"), t));
    let got = Interpreter::new().run(&g, &Weights::new(), feed).unwrap_or_else(|e| panic!("{case}: {e}"));
    assert_close(got.get("out").unwrap(), &want, 1e-6, 1e-7, case);
}

macro_rules! op_cases {
    ($($case:ident: |$g:ident, $x:ident| $body:expr;)*) => {$(
        #[test]
        fn $case() {
            #[allow(unused_variables)]
            check(&open_fixture("ops/ops.safetensors"), stringify!($case), |$g: &Graph, $x: &[Value]| $body);
        }
    )*};
}

op_cases! {
    matmul_2d: |g, x| ops::matmul(&x[0], &x[1]);
    matmul_batched_broadcast: |g, x| ops::matmul(&x[0], &x[1]);
    matmul_odd: |g, x| ops::matmul(&x[0], &x[1]);
    linear: |g, x| ops::linear(&x[0], &x[1], Some(&x[2]));
    conv1d_whisper: |g, x| ops::conv1d(&x[0], &x[1], Some(&x[2]), Conv1dOptions { stride: 2, padding: 1, ..Default::default() });
    conv1d_groups_dilation: |g, x| ops::conv1d(&x[0], &x[1], None, Conv1dOptions { padding: 2, dilation: 2, groups: 2, ..Default::default() });
    add: |g, x| &x[0] + &x[1];
    sub: |g, x| &x[0] - &x[1];
    mul: |g, x| &x[0] * &x[1];
    div: |g, x| &x[0] / &x[1];
    pow: |g, x| ops::pow(&x[0], &x[1]);
    maximum: |g, x| ops::maximum(&x[0], &x[1]);
    minimum: |g, x| ops::minimum(&x[0], &x[1]);
    floor_div_i64: |g, x| ops::div(&x[0], &x[1]);
    neg: |g, x| -&x[0];
    abs: |g, x| ops::abs(&x[0]);
    exp: |g, x| ops::exp(&x[0]);
    log: |g, x| ops::log(&x[0]);
    sqrt: |g, x| ops::sqrt(&x[0]);
    rsqrt: |g, x| ops::rsqrt(&x[0]);
    recip: |g, x| ops::recip(&x[0]);
    tanh: |g, x| ops::tanh(&x[0]);
    sigmoid: |g, x| ops::sigmoid(&x[0]);
    relu: |g, x| ops::relu(&x[0]);
    silu: |g, x| ops::silu(&x[0]);
    gelu: |g, x| ops::gelu(&x[0], Gelu::Erf);
    gelu_tanh: |g, x| ops::gelu(&x[0], Gelu::Tanh);
    erf: |g, x| ops::erf(&x[0]);
    sin: |g, x| ops::sin(&x[0]);
    cos: |g, x| ops::cos(&x[0]);
    lt: |g, x| ops::lt(&x[0], &x[1]);
    eq_i64: |g, x| ops::eq(&x[0], &x[1]);
    select_where: |g, x| ops::select(&x[0], &x[1], &x[2]);
    cast_f32_i64: |g, x| ops::cast(&x[0], DType::I64);
    cast_i64_f32: |g, x| ops::cast(&x[0], DType::F32);
    layer_norm: |g, x| ops::layer_norm(&x[0], &x[1], &x[2], 1e-12);
    layer_norm_eps: |g, x| ops::layer_norm(&x[0], &x[1], &x[2], 1e-5);
    rms_norm: |g, x| ops::rms_norm(&x[0], &x[1], 1e-6);
    softmax_last: |g, x| ops::softmax(&x[0], -1);
    softmax_axis1: |g, x| ops::softmax(&x[0], 1);
    sum_axis1: |g, x| ops::sum(&x[0], 1, false);
    mean_keep: |g, x| ops::mean(&x[0], -1, true);
    max_axis0: |g, x| ops::max(&x[0], 0, false);
    min_axis1: |g, x| ops::min(&x[0], 1, false);
    argmax: |g, x| ops::argmax(&x[0], -1, false);
    sum_i64: |g, x| ops::sum(&x[0], 0, false);
    gather_embedding: |g, x| ops::gather(&x[0], &x[1], 0);
    gather_axis1: |g, x| ops::gather(&x[0], &x[1], 1);
    permute: |g, x| ops::permute(&x[0], &[2, 0, 1]);
    transpose: |g, x| ops::transpose(&x[0], -2, -1);
    reshape_heads: |g, x| ops::permute(&ops::reshape(&x[0], [2usize, 5, 3, 4]), &[0, 2, 1, 3]);
    expand: |g, x| ops::expand(&x[0], [2usize, 3, 4]);
    slice_step: |g, x| ops::slice_step(&x[0], 1, 1, 9, 3);
    concat: |g, x| ops::concat(&[&x[0], &x[1]], 1);
    split_middle: |g, x| ops::split(&x[0], 1, &[2, 3, 4]).swap_remove(1);
    range: |g, x| ops::range(g, 3, 2, 6, DType::I64);
    causal_mask: |g, x| ops::causal_mask(g, 4, 6);
    sliding_mask: |g, x| ops::band_mask(g, 5, 5, Some(2), Some(0));
}

/// The masked softmax HF models compute: scores plus a large negative bias
/// where the mask is false, built from a bool mask with `select`.
#[test]
fn softmax_masked() {
    check(&open_fixture("ops/ops.safetensors"), "softmax_masked", |g, x| {
        let keep = Tensor::new([2, 6], vec![true, true, true, true, false, false, false, true, true, true, true, true])
            .unwrap();
        let keep = ops::constant(g, keep);
        let min = ops::scalar(g, f32::MIN as f64, DType::F32);
        ops::softmax(&ops::select(&keep, &x[0], &min), -1)
    });
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
