//! The finite-difference harness of the gradient tests: f64 inputs, a
//! fixed random cotangent, and central differences on the interpreter.

use super::assert_close;
use super::gpu::Rng;
use wgraph::autodiff;
use wgraph::graph::ops;
use wgraph::{Dim, Graph, Interpreter, Tensor, Value, Weights};

/// Central differences with step `EPS` in f64 agree with the analytic
/// gradient to about 1e-9 relative; the tolerance leaves room for curvature.
pub const EPS: f64 = 1e-6;
pub const RTOL: f64 = 1e-6;
pub const ATOL: f64 = 1e-6;
/// Elements perturbed per input at most (a random subset beyond that).
pub const MAX_PROBES: usize = 120;

pub fn uniform(rng: &mut Rng, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * ((rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
}

/// f64 values uniform in [lo, hi).
pub fn floats(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape.to_vec(), (0..n).map(|_| uniform(rng, lo, hi)).collect::<Vec<f64>>()).unwrap()
}

/// f64 values with magnitude in [lo, hi) and a random sign: away from a kink at 0.
pub fn away(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    let n = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| if rng.below(2) == 0 { 1.0 } else { -1.0 } * uniform(rng, lo, hi)).collect();
    Tensor::new(shape.to_vec(), v).unwrap()
}

/// f64 values of a random shape of `rank` dims.
pub fn random(rng: &mut Rng, rank: usize, lo: f64, hi: f64) -> Tensor {
    let s = dims(rng, rank);
    floats(rng, &s, lo, hi)
}

/// f64 values of the shape `[size, middle.., size]`, `0` in `shape` standing for a random size.
pub fn shaped(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor {
    let s: Vec<usize> = shape.iter().map(|&d| if d == 0 { size(rng) } else { d }).collect();
    floats(rng, &s, lo, hi)
}

pub fn ints(rng: &mut Rng, shape: &[usize], below: usize) -> Tensor {
    rng.ints(shape, below)
}

/// Small awkward sizes (finite differences run the graph twice per element).
pub fn size(rng: &mut Rng) -> usize {
    [1, 2, 3, 4, 5][rng.below(5)]
}

pub fn dims(rng: &mut Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| size(rng)).collect()
}

/// A shape broadcastable against `shape`: some axes become 1, leading axes may go.
pub fn broadcastable(rng: &mut Rng, shape: &[usize]) -> Vec<usize> {
    let drop = rng.below(shape.len() + 1).min(shape.len() - 1);
    shape[drop..].iter().map(|&d| if rng.below(3) == 0 { 1 } else { d }).collect()
}

pub fn sum_all(x: &Value) -> Value {
    ops::sum(&ops::reshape(x, [Dim::product(&x.shape())]), 0, false)
}

/// Declares `inputs` (as `x0, x1, ...`) and `c` (the cotangent, when
/// given) and returns the graph, the input values and `sum(build(x) * c)`.
pub fn build_loss(
    inputs: &[Tensor],
    cot: Option<&Tensor>,
    build: &dyn Fn(&Graph, &[Value]) -> Value,
) -> (Graph, Vec<Value>, Value) {
    let g = Graph::new("grad_check");
    let xs: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| g.input(format!("x{i}"), t.dtype(), t.shape().iter().map(|&d| Dim::new(d))))
        .collect();
    let y = build(&g, &xs);
    let loss = match cot {
        Some(c) => sum_all(&(&y * &g.input("c", c.dtype(), c.shape().iter().map(|&d| Dim::new(d))))),
        None => y,
    };
    (g, xs, loss)
}

pub fn feed(inputs: &[Tensor], cot: Option<&Tensor>) -> Vec<(String, Tensor)> {
    let mut f: Vec<(String, Tensor)> = inputs.iter().enumerate().map(|(i, t)| (format!("x{i}"), t.clone())).collect();
    f.extend(cot.map(|c| ("c".to_string(), c.clone())));
    f
}

pub fn run_loss(g: &Graph, inputs: &[Tensor], cot: Option<&Tensor>, weights: &Weights) -> f64 {
    let out = Interpreter::new().run(g, weights, feed(inputs, cot)).unwrap();
    let loss = out.iter().next().unwrap().1.to_f64_vec()[0];
    loss
}

/// The gradient of `loss(inputs)` w.r.t. every float input, analytic
/// (autodiff) and numeric (central differences), asserted close.
pub fn check_grad(what: &str, inputs: Vec<Tensor>, rng: &mut Rng, build: impl Fn(&Graph, &[Value]) -> Value) {
    // The cotangent has the output's shape: build once to learn it.
    let probe = build_loss(&inputs, None, &build).2;
    let out_shape: Vec<usize> = probe.shape().iter().map(|d| d.as_static().unwrap()).collect();
    assert!(probe.dtype().is_float(), "{what}: output is {}", probe.dtype());
    let cot = floats(rng, &out_shape, -1.0, 1.0).cast(probe.dtype());

    let (forward, _, loss) = build_loss(&inputs, Some(&cot), &build);
    forward.output_named([("loss", &loss)]).unwrap_or_else(|e| panic!("{what}: {e}"));

    let (backward, xs, loss) = build_loss(&inputs, Some(&cot), &build);
    let float_inputs: Vec<usize> = (0..inputs.len()).filter(|&i| inputs[i].dtype().is_float()).collect();
    let wrt: Vec<Value> = float_inputs.iter().map(|&i| xs[i].clone()).collect();
    let grads = autodiff::backward(&loss, &wrt).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(grads.unreachable().is_empty(), "{what}: unreachable {:?}", grads.unreachable_names());
    backward.output_named(grads.named_outputs()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let analytic = Interpreter::new()
        .run(&backward, &Weights::new(), feed(&inputs, Some(&cot)))
        .unwrap_or_else(|e| panic!("{what}: {e}"));

    let weights = Weights::new();
    for &i in &float_inputs {
        let got = analytic.get(&format!("grad/x{i}")).unwrap();
        let x = &inputs[i];
        let base = x.to_f64_vec();
        let mut numeric = vec![0.0; base.len()];
        let probes: Vec<usize> = if base.len() <= MAX_PROBES {
            (0..base.len()).collect()
        } else {
            (0..MAX_PROBES).map(|_| rng.below(base.len())).collect()
        };
        let mut want = got.to_f64_vec();
        for &j in &probes {
            let mut shifted = inputs.clone();
            let mut eval = |delta: f64| {
                let mut v = base.clone();
                v[j] += delta;
                shifted[i] = Tensor::from_f64(x.dtype(), x.shape().to_vec(), &v).unwrap();
                run_loss(&forward, &shifted, Some(&cot), &weights)
            };
            numeric[j] = (eval(EPS) - eval(-EPS)) / (2.0 * EPS);
            want[j] = numeric[j];
        }
        let want = Tensor::from_f64(got.dtype(), got.shape().to_vec(), &want).unwrap();
        assert_close(got, &want, RTOL, ATOL, &format!("{what}: gradient of x{i}"));
    }
}
