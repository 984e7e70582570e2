//! Gradients against central finite differences, in f64 on the
//! interpreter: every differentiable (`GRAD`) case of the op table
//! (tests/common/op_cases.rs) gets one `#[test]` here, generated from the
//! table, so an op added there with `GRAD` is covered with no edit here.
//! Each check builds `loss = sum(op(x) * c)` with a fixed random cotangent
//! `c`, so the whole vector-Jacobian product is checked, on the case's three
//! seeds of awkward shapes with broadcasting and size-1 dims, its float
//! inputs converted to f64. The case generators keep inputs away from kinks
//! and ties (their rules are checked with hand-computed values in
//! tests/autodiff.rs and against PyTorch in tests/grad_pytorch.rs).
//!
//! Below the table's cases: what is not a single op of the table (losses,
//! value reuse, small models) and a cast to f64, which the table cannot hold
//! (GPUs have no f64).

mod common;

use common::gpu::Rng;
use common::grad::{broadcastable, check_grad, check_grad_probes, dims, floats, ints, random, size, TABLE_PROBES};
use common::op_cases::{case, grad_case_names, op_table, CASES, MIN_GRAD_CASES, SEEDS};
use wgraph::autodiff::{cross_entropy, mse_loss};
use wgraph::graph::ops::{self, Gelu};
use wgraph::{DType, Dim, Graph, Tensor, Value};

/// One table case on every seed, its float inputs in f64.
fn check_case(name: &str) {
    let case = case(name);
    assert!(case.differentiable, "{name} is not differentiable");
    let mut compared = 0;
    for seed in SEEDS {
        let inputs: Vec<Tensor> =
            case.inputs(seed).into_iter().map(|t| if t.dtype().is_float() { t.cast(DType::F64) } else { t }).collect();
        let mut rng = Rng(seed ^ 0x9E37_79B9);
        compared += check_grad_probes(&format!("{name} seed {seed}"), inputs, &mut rng, TABLE_PROBES, case.build);
    }
    assert!(compared >= SEEDS.len(), "{name}: {compared} derivatives compared");
}

macro_rules! table_grad_test {
    ($name:ident) => {
        #[test]
        fn $name() {
            check_case(stringify!($name));
        }
    };
}

op_table!(grad_case_names; table_grad_test);

#[test]
fn the_table_has_differentiable_cases() {
    let n = CASES.iter().filter(|c| c.differentiable).count();
    assert!(n >= MIN_GRAD_CASES, "{n} differentiable op cases, expected at least {MIN_GRAD_CASES}");
}

/// One test per extra case: three seeds, each drawing fresh shapes and values.
macro_rules! grad_op {
    ($name:ident, |$rng:ident| $inputs:expr, |$g:ident, $x:ident| $body:expr) => {
        #[test]
        fn $name() {
            for seed in 0..3u64 {
                let mut $rng = Rng(seed * 7919 + 17);
                let inputs: Vec<Tensor> = $inputs;
                #[allow(unused_variables)]
                let compared = check_grad(
                    &format!("{} seed {seed}", stringify!($name)),
                    inputs,
                    &mut $rng,
                    |$g: &Graph, $x: &[Value]| $body,
                );
                assert!(compared > 0);
            }
        }
    };
}

grad_op!(cast_f64, |rng| vec![random(&mut rng, 3, -3.0, 3.0)], |g, x| ops::cast(&x[0], DType::F64));
// One value as both operands: the two contributions add up.
grad_op!(squared, |rng| vec![random(&mut rng, 3, -3.0, 3.0)], |g, x| &x[0] * &x[0]);

// ---- losses and small models ----------------------------------------------

grad_op!(
    cross_entropy_mean,
    |rng| {
        let (b, t, c) = (size(&mut rng), size(&mut rng), size(&mut rng) + 1);
        vec![floats(&mut rng, &[b, t, c], -3.0, 3.0), ints(&mut rng, &[b, t], c)]
    },
    |g, x| cross_entropy(&x[0], &x[1], None)
);
grad_op!(
    cross_entropy_ignored,
    |rng| {
        let (b, c) = (size(&mut rng) + 2, size(&mut rng) + 1);
        let mut labels = ints(&mut rng, &[b], c).to_i64_vec();
        labels[0] = -100;
        vec![floats(&mut rng, &[b, c], -3.0, 3.0), Tensor::new([b], labels).unwrap()]
    },
    |g, x| cross_entropy(&x[0], &x[1], Some(-100))
);
grad_op!(
    mse,
    |rng| {
        let s = dims(&mut rng, 3);
        let t = broadcastable(&mut rng, &s);
        vec![floats(&mut rng, &s, -2.0, 2.0), floats(&mut rng, &t, -2.0, 2.0)]
    },
    |g, x| mse_loss(&x[0], &x[1])
);
grad_op!(reused_value, |rng| vec![random(&mut rng, 2, -2.0, 2.0)], |g, x| {
    // One value read by several ops: the contributions must add up.
    let t = ops::tanh(&x[0]);
    &(&t * &x[0]) + &ops::exp(&(&t * 0.5))
});
grad_op!(
    mlp_two_layers,
    |rng| {
        let (b, i, h, o) = (size(&mut rng), size(&mut rng) + 1, size(&mut rng) + 1, size(&mut rng));
        vec![
            floats(&mut rng, &[b, i], -1.0, 1.0),
            floats(&mut rng, &[h, i], -1.0, 1.0),
            floats(&mut rng, &[h], -0.5, 0.5),
            floats(&mut rng, &[h], 0.5, 1.5),
            floats(&mut rng, &[h], -0.5, 0.5),
            floats(&mut rng, &[o, h], -1.0, 1.0),
            floats(&mut rng, &[o], -0.5, 0.5),
        ]
    },
    |g, x| {
        let h = ops::gelu(&ops::linear(&x[0], &x[1], Some(&x[2])), Gelu::Erf);
        let h = ops::layer_norm(&h, &x[3], &x[4], 1e-5);
        ops::linear(&h, &x[5], Some(&x[6]))
    }
);
grad_op!(
    attention_block,
    |rng| {
        let (b, t, d) = (size(&mut rng), size(&mut rng) + 1, 4);
        let mut inputs = vec![floats(&mut rng, &[b, t, d], -1.0, 1.0)];
        for _ in 0..4 {
            inputs.push(floats(&mut rng, &[d, d], -0.7, 0.7));
        }
        inputs.push(floats(&mut rng, &[d], 0.5, 1.5));
        inputs
    },
    |g, x| attention(g, &x[0], &x[1], &x[2], &x[3], &x[4], &x[5])
);

/// One causal two-head self-attention block with a residual and RMSNorm.
fn attention(g: &Graph, x: &Value, wq: &Value, wk: &Value, wv: &Value, wo: &Value, gamma: &Value) -> Value {
    let (b, t, d) = (x.shape()[0].clone(), x.shape()[1].clone(), x.shape()[2].as_static().unwrap());
    let heads = 2;
    let split = |v: Value| {
        ops::transpose(&ops::reshape(&v, [b.clone(), t.clone(), Dim::new(heads), Dim::new(d / heads)]), 1, 2)
    };
    let h = ops::rms_norm(x, gamma, 1e-6);
    let (q, k, v) =
        (split(ops::linear(&h, wq, None)), split(ops::linear(&h, wk, None)), split(ops::linear(&h, wv, None)));
    let scores = &ops::matmul(&q, &ops::transpose(&k, -2, -1)) * (1.0 / ((d / heads) as f64).sqrt());
    let mask = ops::causal_mask(g, t.clone(), t.clone());
    let scores = ops::select(&mask, &scores, &ops::scalar(g, -1e9, x.dtype()));
    let ctx = ops::matmul(&ops::softmax(&scores, -1), &v);
    let ctx = ops::reshape(&ops::transpose(&ctx, 1, 2), [b, t, Dim::new(d)]);
    x + &ops::linear(&ctx, wo, None)
}
