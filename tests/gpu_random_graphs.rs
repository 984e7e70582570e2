//! Differential testing: seeded random DAGs of transformer-ish ops run on
//! the interpreter and on the GPU, fused and unfused, must all agree.

mod common;

use common::gpu::{check_gpu, Rng};
use wgraph::graph::ops::{self, Gelu};
use wgraph::{DType, Dim, Graph, Tensor, Value, Weights};

/// Builds one random graph. Every value has a shape that broadcasts to
/// `[a, n, n]`, and ops keep magnitudes bounded so tolerances stay honest.
fn random_graph(seed: u64) -> (Graph, Vec<(String, Tensor)>) {
    let mut rng = Rng(seed.wrapping_mul(0x2545F4914F6CDD1D) ^ 0xABCDEF);
    let (a, n) = (rng.size(), rng.size());
    let g = Graph::new(format!("random_{seed}"));
    let mut values: Vec<Value> = Vec::new();
    let mut feed = Vec::new();
    let shapes = [vec![a, n, n], vec![n, n], vec![1, n], vec![a, 1, n], vec![a, n, 1]];
    for i in 0..1 + rng.below(3) {
        let shape = shapes[rng.below(shapes.len())].clone();
        let name = format!("x{i}");
        values.push(g.input(&name, DType::F32, shape.iter().map(|&d| Dim::new(d))));
        feed.push((name, rng.floats(&shape, -2.0, 2.0)));
    }
    let full = |v: &Value| v.shape() == [Dim::new(a), Dim::new(n), Dim::new(n)];
    let steps = 4 + rng.below(10);
    for _ in 0..steps {
        let x = values[rng.below(values.len())].clone();
        let y = values[rng.below(values.len())].clone();
        let v = match rng.below(13) {
            0 => ops::tanh(&x),
            1 => ops::gelu(&x, if rng.below(2) == 0 { Gelu::Erf } else { Gelu::Tanh }),
            2 => ops::silu(&ops::tanh(&x)),
            3 => &x + &y,
            4 => &(&x * &y) * 0.5,
            5 => &x / &(&ops::abs(&y) + 1.0),
            6 => ops::select(&ops::gt(&x, &y), &x, &ops::neg(&y)),
            7 => ops::maximum(&ops::sigmoid(&x), &ops::exp(&ops::tanh(&y))),
            8 if x.rank() >= 2 => ops::transpose(&x, -1, -2),
            9 if full(&x) => {
                let flat = ops::reshape(&x, [a, n * n]);
                ops::reshape(&ops::sin(&flat), [a, n, n])
            }
            10 if x.rank() >= 2
                && y.rank() >= 2
                && x.shape()[x.rank() - 1] == Dim::new(n)
                && y.shape()[y.rank() - 2] == Dim::new(n) =>
            {
                ops::matmul(&x, &y) * (1.0 / n as f64)
            }
            11 => {
                let axis = -1 - rng.below(x.rank()) as isize;
                match rng.below(3) {
                    0 => ops::softmax(&x, axis),
                    1 => &x - &ops::mean(&x, axis, true),
                    _ => ops::tanh(&ops::sum(&x, axis, true)),
                }
            }
            12 if full(&x) => {
                let joined = ops::concat(&[&x, &ops::cos(&x)], -1);
                let start = rng.below(n + 1);
                ops::slice(&joined, -1, start, start + n)
            }
            _ => {
                let gamma = ops::constant(
                    &g,
                    Tensor::new([n], (0..n).map(|i| 0.5 + i as f32 * 0.1).collect::<Vec<_>>()).unwrap(),
                );
                let beta = ops::constant(&g, Tensor::new([n], vec![0.1f32; n]).unwrap());
                let x = if x.shape().last() == Some(&Dim::new(n)) { x } else { ops::expand(&x, [a, n, n]) };
                ops::layer_norm(&x, &gamma, &beta, 1e-5)
            }
        };
        values.push(v);
    }
    // A few of the newest values are outputs, and so is whatever the last
    // step produced.
    let outs: Vec<(String, Value)> =
        values.iter().rev().take(1 + rng.below(3)).enumerate().map(|(i, v)| (format!("y{i}"), v.clone())).collect();
    g.output_named(outs).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    (g, feed)
}

fn run_seeds(range: std::ops::Range<u64>) {
    for seed in range {
        let (g, feed) = random_graph(seed);
        check_gpu(&g, &Weights::new(), &feed, 1e-4, 2e-5, &format!("random graph {seed}\n{}", g.dump()));
    }
}

// Split so the test harness runs them in parallel.
#[test]
fn random_graphs_0() {
    run_seeds(0..60);
}

#[test]
fn random_graphs_1() {
    run_seeds(60..120);
}

#[test]
fn random_graphs_2() {
    run_seeds(120..180);
}

#[test]
fn random_graphs_3() {
    run_seeds(180..240);
}
