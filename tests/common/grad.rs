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
/// The same for the op table's cases, whose shapes reach 65 per dim: a
/// matmul case then costs seconds per probe budget, and the random
/// directions already check every element in projection.
pub const TABLE_PROBES: usize = 24;
/// Random directions each input is also perturbed along.
pub const DIRECTIONS: usize = 2;

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

/// `out` of the forward graph on `inputs`, as f64.
fn run_out(forward: &Graph, inputs: &[Tensor], what: &str) -> Vec<f64> {
    let out =
        Interpreter::new().run(forward, &Weights::new(), feed(inputs, None)).unwrap_or_else(|e| panic!("{what}: {e}"));
    out.get("out").unwrap().to_f64_vec()
}

/// The gradient of `loss = sum(build(inputs) * c)` (`c` a random
/// cotangent) w.r.t. every float input, analytic (autodiff) against
/// central differences, asserted close. For each float input: every
/// element (or [`MAX_PROBES`] random ones) perturbed alone, plus
/// [`DIRECTIONS`] random directions perturbing all elements at once, which
/// check the whole gradient as a projection. A difference is taken on the
/// output, `c . (y(x + h) - y(x - h)) / 2h`: outputs the perturbation does
/// not reach cancel exactly, so the step's round-off does not grow with the
/// output's size. Returns the number of derivatives compared.
pub fn check_grad(what: &str, inputs: Vec<Tensor>, rng: &mut Rng, build: impl Fn(&Graph, &[Value]) -> Value) -> usize {
    check_grad_probes(what, inputs, rng, MAX_PROBES, build)
}

/// [`check_grad`] perturbing at most `max_probes` single elements per input.
pub fn check_grad_probes(
    what: &str,
    inputs: Vec<Tensor>,
    rng: &mut Rng,
    max_probes: usize,
    build: impl Fn(&Graph, &[Value]) -> Value,
) -> usize {
    let (forward, _, y) = build_loss(&inputs, None, &build);
    assert!(y.dtype().is_float(), "{what}: output is {}", y.dtype());
    forward.output_named([("out", &y)]).unwrap_or_else(|e| panic!("{what}: {e}"));
    let base = run_out(&forward, &inputs, what);
    assert!(base.iter().all(|v| v.is_finite()), "{what}: the forward output is not finite");
    let out_shape: Vec<usize> = y.shape().iter().map(|d| d.as_static().unwrap()).collect();
    let cot = floats(rng, &out_shape, -1.0, 1.0).cast(y.dtype());
    let c = cot.to_f64_vec();

    let (backward, xs, loss) = build_loss(&inputs, Some(&cot), &build);
    let float_inputs: Vec<usize> = (0..inputs.len()).filter(|&i| inputs[i].dtype().is_float()).collect();
    assert!(!float_inputs.is_empty(), "{what}: no float input to differentiate");
    let wrt: Vec<Value> = float_inputs.iter().map(|&i| xs[i].clone()).collect();
    let grads = autodiff::backward(&loss, &wrt).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(grads.unreachable().is_empty(), "{what}: unreachable {:?}", grads.unreachable_names());
    backward.output_named(grads.named_outputs()).unwrap_or_else(|e| panic!("{what}: {e}"));
    let analytic = Interpreter::new()
        .run(&backward, &Weights::new(), feed(&inputs, Some(&cot)))
        .unwrap_or_else(|e| panic!("{what}: {e}"));

    // d/dh of c . y(x + h v) at h = 0, v given as (index, value) pairs.
    let derivative = |i: usize, v: &[(usize, f64)]| {
        let x = &inputs[i];
        let base = x.to_f64_vec();
        let mut shifted = inputs.clone();
        let mut eval = |h: f64| {
            let mut moved = base.clone();
            for &(j, vj) in v {
                moved[j] += h * vj;
            }
            shifted[i] = Tensor::from_f64(x.dtype(), x.shape().to_vec(), &moved).unwrap();
            run_out(&forward, &shifted, what)
        };
        let (plus, minus) = (eval(EPS), eval(-EPS));
        plus.iter().zip(&minus).zip(&c).map(|((p, m), c)| c * (p - m)).sum::<f64>() / (2.0 * EPS)
    };

    let mut compared = 0;
    for &i in &float_inputs {
        let got = analytic.get(&format!("grad/x{i}")).unwrap();
        let g = got.to_f64_vec();
        let n = g.len();
        let probes: Vec<usize> =
            if n <= max_probes { (0..n).collect() } else { (0..max_probes).map(|_| rng.below(n)).collect() };
        let mut want = g.clone();
        for &j in &probes {
            want[j] = derivative(i, &[(j, 1.0)]);
        }
        let want = Tensor::from_f64(got.dtype(), got.shape().to_vec(), &want).unwrap();
        assert_close(got, &want, RTOL, ATOL, &format!("{what}: gradient of x{i}"));
        for d in 0..DIRECTIONS {
            let v: Vec<(usize, f64)> = (0..n).map(|j| (j, uniform(rng, -1.0, 1.0))).collect();
            let numeric = derivative(i, &v);
            let exact: f64 = v.iter().map(|&(j, vj)| g[j] * vj).sum();
            let scale: f64 = v.iter().map(|&(j, vj)| (g[j] * vj).abs()).sum();
            assert!(
                (numeric - exact).abs() <= RTOL * scale + ATOL,
                "{what}: gradient of x{i} along random direction {d}: autodiff gives {exact}, finite differences {numeric}"
            );
        }
        compared += probes.len() + DIRECTIONS;
    }
    compared
}
