//! Losses, gradients and tie conventions against PyTorch, read from the
//! committed fixture tests/fixtures/grads/grads.safetensors (generator:
//! tests/fixtures/grads/generate.py; CI never runs PyTorch). Ends with a whole
//! model: a one-block causal LM, every parameter's gradient to 1e-10.

mod common;

use common::{fixture, open_fixture};
use wgraph::autodiff::{self, cross_entropy, mse_loss};
use wgraph::graph::ops;
use wgraph::{DType, Dim, Graph, Interpreter, Tensor, Value, Weights};

fn sum_all(x: &Value) -> Value {
    ops::sum(&ops::reshape(x, [Dim::product(&x.shape())]), 0, false)
}

/// Equal within `atol + rtol * |want|`; non-finite references must match exactly.
fn assert_same(got: &Tensor, want: &Tensor, rtol: f64, atol: f64, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (a, b)) in got.to_f64_vec().into_iter().zip(want.to_f64_vec()).enumerate() {
        let ok =
            if b.is_finite() { (a - b).abs() <= atol + rtol * b.abs() } else { a == b || (a.is_nan() && b.is_nan()) };
        assert!(ok, "{what}: element {i} is {a}, PyTorch gives {b}");
    }
}

/// Builds the case's loss from its stored inputs, differentiates it with
/// respect to every float input, and compares loss and gradients.
fn pytorch_case(name: &str, rtol: f64, build: impl Fn(&[Value]) -> Value) {
    let file = open_fixture("grads/grads.safetensors");
    let read = |key: String| file.read(&key).unwrap_or_else(|e| panic!("{name}: {e}"));
    let count = (0..).take_while(|i| file.info(&format!("{name}.in{i}")).is_some()).count();
    assert!(count > 0, "{name}: no such case in {}", fixture("grads/grads.safetensors").display());
    let inputs: Vec<Tensor> = (0..count).map(|i| read(format!("{name}.in{i}"))).collect();
    let g = Graph::new(name);
    let xs: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| g.input(format!("x{i}"), t.dtype(), t.shape().iter().map(|&d| Dim::new(d))))
        .collect();
    let loss = build(&xs);
    let floats: Vec<usize> = (0..count).filter(|&i| inputs[i].dtype().is_float()).collect();
    let wrt: Vec<Value> = floats.iter().map(|&i| xs[i].clone()).collect();
    let grads = autodiff::backward(&loss, &wrt).unwrap_or_else(|e| panic!("{name}: {e}"));
    g.output_named(grads.named_outputs()).unwrap();
    let feed: Vec<(String, Tensor)> = inputs.iter().enumerate().map(|(i, t)| (format!("x{i}"), t.clone())).collect();
    let out = Interpreter::new().run(&g, &Weights::new(), feed).unwrap_or_else(|e| panic!("{name}: {e}"));
    let loss = out.get("loss").unwrap().reshape_like(&read(format!("{name}.loss")));
    assert_same(&loss, &read(format!("{name}.loss")), rtol, rtol, &format!("{name}: loss"));
    for &i in &floats {
        let got = out.get(&format!("grad/x{i}")).unwrap();
        assert_same(got, &read(format!("{name}.grad{i}")), rtol, rtol, &format!("{name}: gradient of input {i}"));
    }
}

trait ReshapeLike {
    fn reshape_like(&self, other: &Tensor) -> Tensor;
}

impl ReshapeLike for Tensor {
    fn reshape_like(&self, other: &Tensor) -> Tensor {
        self.clone().reshape(other.shape().to_vec()).unwrap()
    }
}

/// `sum(f(inputs...) * c)`, the cotangent `c` being the last input.
fn weighted(xs: &[Value], f: impl Fn(&[Value]) -> Value) -> Value {
    let (c, args) = xs.split_last().unwrap();
    sum_all(&(&f(args) * c))
}

macro_rules! pytorch {
    ($($name:ident, $rtol:expr => |$x:ident| $body:expr;)*) => {$(
        #[test]
        fn $name() {
            pytorch_case(stringify!($name), $rtol, |$x: &[Value]| $body);
        }
    )*};
}

pytorch! {
    ce_ignore, 1e-12 => |x| cross_entropy(&x[0], &x[1], Some(-100));
    ce_3d, 1e-12 => |x| cross_entropy(&x[0], &x[1], Some(-100));
    ce_ignore_zero, 1e-12 => |x| cross_entropy(&x[0], &x[1], Some(0));
    ce_all_ignored, 1e-12 => |x| cross_entropy(&x[0], &x[1], Some(-100));
    ce_extreme, 1e-12 => |x| cross_entropy(&x[0], &x[1], None);
    ce_f32, 1e-6 => |x| cross_entropy(&x[0], &x[1], Some(-100));
    mse, 1e-12 => |x| mse_loss(&x[0], &x[1]);
    mse_broadcast, 1e-12 => |x| mse_loss(&x[0], &x[1]);
    relu_zero, 0.0 => |x| weighted(x, |a| ops::relu(&a[0]));
    abs_zero, 0.0 => |x| weighted(x, |a| ops::abs(&a[0]));
    sqrt_zero, 0.0 => |x| weighted(x, |a| ops::sqrt(&a[0]));
    maximum_tie, 0.0 => |x| weighted(x, |a| ops::maximum(&a[0], &a[1]));
    minimum_tie, 0.0 => |x| weighted(x, |a| ops::minimum(&a[0], &a[1]));
    maximum_tie_broadcast, 0.0 => |x| weighted(x, |a| ops::maximum(&a[0], &a[1]));
    amax_tie, 1e-15 => |x| weighted(x, |a| ops::max(&a[0], 1, false));
    amin_tie, 1e-15 => |x| weighted(x, |a| ops::min(&a[0], 1, false));
    pow_zero, 1e-14 => |x| weighted(x, |a| ops::pow(&a[0], &a[1]));
    tiny_lm, 1e-10 => |x| tiny_lm_loss(x);
}

/// The fixture's one-block causal LM (see generate.py): tied embeddings,
/// LayerNorm, two-head attention masked with -inf, tanh-GELU MLP,
/// cross_entropy ignoring -100. Every parameter's gradient is compared.
fn tiny_lm_loss(x: &[Value]) -> Value {
    let [ids, labels, wte, ln_g, ln_b, wq, wk, wv, wo, w1, b1, w2, b2] = x else { panic!("13 inputs") };
    let g = ids.graph();
    let (batch, seq, d, heads) = (ids.shape()[0].clone(), ids.shape()[1].clone(), 4, 2);
    let split = |v: Value| {
        ops::transpose(&ops::reshape(&v, [batch.clone(), seq.clone(), heads.into(), (d / heads).into()]), 1, 2)
    };
    let emb = ops::gather(wte, ids, 0);
    let h = ops::layer_norm(&emb, ln_g, ln_b, 1e-5);
    let (q, k, v) =
        (split(ops::linear(&h, wq, None)), split(ops::linear(&h, wk, None)), split(ops::linear(&h, wv, None)));
    let scores = &ops::matmul(&q, &ops::transpose(&k, -2, -1)) * (1.0 / ((d / heads) as f64).sqrt());
    let masked = ops::select(
        &ops::causal_mask(g, seq.clone(), seq.clone()),
        &scores,
        &ops::scalar(g, f64::NEG_INFINITY, DType::F64),
    );
    let ctx = ops::matmul(&ops::softmax(&masked, -1), &v);
    let ctx = ops::reshape(&ops::transpose(&ctx, 1, 2), [batch, seq, Dim::new(d)]);
    let x = &emb + &ops::linear(&ctx, wo, None);
    let mlp = ops::linear(&ops::gelu(&ops::linear(&x, w1, Some(b1)), ops::Gelu::Tanh), w2, Some(b2));
    let x = &x + &mlp;
    cross_entropy(&ops::linear(&x, wte, None), labels, Some(-100))
}
