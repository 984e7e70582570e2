//! Every op on the GPU against the CPU interpreter, on seeded random shapes
//! with broadcasting, size-1 and odd sizes, fused and unfused.

mod common;

use common::gpu::{check_gpu, Rng};
use wgraph::graph::ops::{self, Conv1dOptions, Gelu};
use wgraph::{DType, Dim, Graph, Tensor, Value, Weights};

/// fp32 elementwise tolerance, and the one for accumulating kernels.
const ELEMENTWISE: (f64, f64) = (1e-6, 1e-6);
const ACCUMULATING: (f64, f64) = (1e-4, 1e-5);

/// Builds a graph over `inputs` (declared with their static shapes) and
/// checks it on the GPU.
fn check(name: &str, inputs: Vec<Tensor>, tol: (f64, f64), build: impl Fn(&Graph, &[Value]) -> Value) {
    let g = Graph::new(name);
    let values: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, t)| g.input(format!("x{i}"), t.dtype(), t.shape().iter().map(|&d| Dim::new(d))))
        .collect();
    g.output_named([("out", build(&g, &values))]).unwrap_or_else(|e| panic!("{name}: {e}"));
    let feed: Vec<(String, Tensor)> = inputs.into_iter().enumerate().map(|(i, t)| (format!("x{i}"), t)).collect();
    check_gpu(&g, &Weights::new(), &feed, tol.0, tol.1, name);
}

/// One test per op: three seeds, each drawing fresh awkward shapes.
macro_rules! gpu_op {
    ($name:ident, $tol:expr, |$rng:ident| $inputs:expr, |$g:ident, $x:ident| $body:expr) => {
        #[test]
        fn $name() {
            for seed in 0..3u64 {
                let mut $rng = Rng(seed * 7919 + 17);
                let inputs: Vec<Tensor> = $inputs;
                #[allow(unused_variables)]
                check(&format!("{} seed {seed}", stringify!($name)), inputs, $tol, |$g: &Graph, $x: &[Value]| $body);
            }
        }
    };
}

fn dims(rng: &mut Rng, rank: usize) -> Vec<usize> {
    (0..rank).map(|_| rng.size()).collect()
}

/// A shape broadcastable against `shape`: some axes become 1, leading axes may go.
fn broadcastable(rng: &mut Rng, shape: &[usize]) -> Vec<usize> {
    let drop = rng.below(shape.len() + 1).min(shape.len() - 1);
    shape[drop..].iter().map(|&d| if rng.below(3) == 0 { 1 } else { d }).collect()
}

macro_rules! unary_tests {
    ($($name:ident: $lo:expr, $hi:expr => |$x:ident| $body:expr;)*) => {$(
        gpu_op!($name, ELEMENTWISE, |rng| { let s = dims(&mut rng, 3); vec![rng.floats(&s, $lo, $hi)] }, |g, x| { let $x = &x[0]; $body });
    )*};
}

unary_tests! {
    neg: -3.0, 3.0 => |x| -x;
    abs: -3.0, 3.0 => |x| ops::abs(x);
    exp: -5.0, 5.0 => |x| ops::exp(x);
    log: 0.01, 5.0 => |x| ops::log(x);
    sqrt: 0.0, 5.0 => |x| ops::sqrt(x);
    rsqrt: 0.01, 5.0 => |x| ops::rsqrt(x);
    recip: 0.1, 5.0 => |x| ops::recip(x);
    tanh: -6.0, 6.0 => |x| ops::tanh(x);
    sigmoid: -9.0, 9.0 => |x| ops::sigmoid(x);
    relu: -3.0, 3.0 => |x| ops::relu(x);
    silu: -6.0, 6.0 => |x| ops::silu(x);
    gelu_erf: -6.0, 6.0 => |x| ops::gelu(x, Gelu::Erf);
    gelu_tanh: -6.0, 6.0 => |x| ops::gelu(x, Gelu::Tanh);
    erf: -3.0, 3.0 => |x| ops::erf(x);
    sin: -4.0, 4.0 => |x| ops::sin(x);
    cos: -4.0, 4.0 => |x| ops::cos(x);
}

macro_rules! binary_tests {
    ($($name:ident: $lo:expr, $hi:expr => |$a:ident, $b:ident| $body:expr;)*) => {$(
        gpu_op!($name, ELEMENTWISE, |rng| {
            let s = dims(&mut rng, 3);
            let t = broadcastable(&mut rng, &s);
            vec![rng.floats(&s, -3.0, 3.0), rng.floats(&t, $lo, $hi)]
        }, |g, x| { let ($a, $b) = (&x[0], &x[1]); $body });
    )*};
}

binary_tests! {
    add: -3.0, 3.0 => |a, b| a + b;
    sub: -3.0, 3.0 => |a, b| a - b;
    mul: -3.0, 3.0 => |a, b| a * b;
    div: 0.5, 3.0 => |a, b| a / b;
    maximum: -3.0, 3.0 => |a, b| ops::maximum(a, b);
    minimum: -3.0, 3.0 => |a, b| ops::minimum(a, b);
    lt: -3.0, 3.0 => |a, b| ops::lt(a, b);
    ge: -3.0, 3.0 => |a, b| ops::ge(a, b);
}

gpu_op!(
    pow,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 2);
        vec![rng.floats(&s, 0.1, 3.0), rng.floats(&s, -2.0, 2.0)]
    },
    |g, x| ops::pow(&x[0], &x[1])
);
gpu_op!(
    scalar_ops,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 2);
        vec![rng.floats(&s, -3.0, 3.0)]
    },
    |g, x| 1.5 - &(&x[0] * 0.125)
);
gpu_op!(
    int_floor_div,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 2);
        let a = rng.ints(&s, 40).to_i64_vec().iter().map(|v| v - 20).collect::<Vec<_>>();
        let b = rng.ints(&s, 9).to_i64_vec().iter().map(|v| v - 4).collect::<Vec<_>>();
        vec![Tensor::new(s.clone(), a).unwrap(), Tensor::new(s, b).unwrap()]
    },
    |g, x| ops::div(&x[0], &x[1])
);
gpu_op!(
    select,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 3);
        let c = broadcastable(&mut rng, &s);
        vec![rng.bools(&c), rng.floats(&s, -3.0, 3.0), rng.floats(&s[2..], -3.0, 3.0)]
    },
    |g, x| ops::select(&x[0], &x[1], &x[2])
);
gpu_op!(
    logic,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 2);
        vec![rng.bools(&s), rng.bools(&s)]
    },
    |g, x| ops::or(&ops::and(&x[0], &ops::not(&x[1])), &x[1])
);
gpu_op!(
    casts,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 2);
        vec![rng.floats(&s, -40.0, 40.0)]
    },
    |g, x| {
        let i = ops::cast(&x[0], DType::I64);
        let b = ops::cast(&i, DType::Bool);
        &ops::cast(&i, DType::F32) + &ops::cast(&b, DType::F32)
    }
);
gpu_op!(
    permute,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 4);
        vec![rng.floats(&s, -1.0, 1.0)]
    },
    |g, x| ops::permute(&x[0], &[2, 0, 3, 1])
);
gpu_op!(
    reshape_heads,
    ELEMENTWISE,
    |rng| {
        let (b, s, h) = (rng.size(), rng.size(), rng.size());
        vec![rng.floats(&[b, s, h * 4], -1.0, 1.0)]
    },
    |g, x| {
        let sh = x[0].shape();
        let heads = ops::reshape(
            &x[0],
            [sh[0].clone(), sh[1].clone(), 4.into(), sh[2].as_static().map(|d| d / 4).unwrap().into()],
        );
        ops::permute(&heads, &[0, 2, 1, 3])
    }
);
gpu_op!(
    expand,
    ELEMENTWISE,
    |rng| {
        let a = rng.size();
        vec![rng.floats(&[a, 1], -1.0, 1.0)]
    },
    |g, x| {
        let a = x[0].shape()[0].clone();
        ops::expand(&x[0], [3.into(), a, 5.into()])
    }
);
gpu_op!(
    slice_step,
    ELEMENTWISE,
    |rng| {
        let s = vec![rng.size(), 20];
        vec![rng.floats(&s, -1.0, 1.0)]
    },
    |g, x| ops::slice_step(&x[0], 1, 3, 19, 4)
);
gpu_op!(
    concat_split,
    ELEMENTWISE,
    |rng| {
        let (a, b, c) = (rng.size(), rng.size(), rng.size());
        vec![rng.floats(&[a, b], -1.0, 1.0), rng.floats(&[a, c], -1.0, 1.0)]
    },
    |g, x| {
        let joined = ops::concat(&[&x[0], &x[1], &x[0]], 1);
        let n = joined.shape()[1].as_static().unwrap();
        let parts = ops::split(&joined, 1, &[1, n - 1]);
        &ops::concat(&[&parts[1], &parts[0]], 1) * 2.0
    }
);
gpu_op!(
    gather_embedding,
    ELEMENTWISE,
    |rng| {
        let (v, d) = (rng.size() + 1, rng.size());
        let (b, s) = (rng.size(), rng.size());
        vec![rng.floats(&[v, d], -1.0, 1.0), rng.ints(&[b, s], v)]
    },
    |g, x| ops::gather(&x[0], &x[1], 0)
);
gpu_op!(
    gather_axis1,
    ELEMENTWISE,
    |rng| {
        let (a, n, c) = (rng.size(), rng.size(), rng.size());
        let k = rng.size();
        vec![rng.floats(&[a, n, c], -1.0, 1.0), rng.ints(&[k], n)]
    },
    |g, x| ops::gather(&x[0], &x[1], 1)
);
gpu_op!(
    range_and_masks,
    ELEMENTWISE,
    |rng| {
        let (r, c) = (rng.size(), rng.size());
        vec![rng.floats(&[r, r + c], -1.0, 1.0)]
    },
    |g, x| {
        let sh = x[0].shape();
        let causal = ops::causal_mask(g, sh[0].clone(), sh[1].clone());
        let band = ops::band_mask(g, sh[0].clone(), sh[1].clone(), Some(2), Some(1));
        let pos = ops::cast(&ops::range(g, 3, 2, sh[1].clone(), DType::I64), DType::F32);
        let both = ops::and(&causal, &band);
        ops::select(&both, &(&x[0] + &pos), &ops::scalar(g, -7.0, DType::F32))
    }
);
gpu_op!(
    matmul_batched_broadcast,
    ACCUMULATING,
    |rng| {
        let (b, m, k, n) = (rng.size(), rng.size(), rng.size(), rng.size());
        vec![rng.floats(&[b, 1, m, k], -1.0, 1.0), rng.floats(&[3, k, n], -1.0, 1.0)]
    },
    |g, x| ops::matmul(&x[0], &x[1])
);
gpu_op!(
    matmul_transposed_operands,
    ACCUMULATING,
    |rng| {
        let (m, k, n) = (rng.size() * 3, rng.size() * 5, rng.size() * 7);
        vec![rng.floats(&[k, m], -1.0, 1.0), rng.floats(&[n, k], -1.0, 1.0), rng.floats(&[n], -1.0, 1.0)]
    },
    |g, x| ops::gelu(&ops::linear(&ops::transpose(&x[0], 0, 1), &x[1], Some(&x[2])), Gelu::Erf)
);
gpu_op!(
    attention_scores,
    ACCUMULATING,
    |rng| {
        let (b, s, h, d) = (rng.size(), rng.size(), 2, rng.size());
        vec![rng.floats(&[b, s, h * d], -1.0, 1.0), rng.bools(&[b, s])]
    },
    |g, x| {
        let sh = x[0].shape();
        let d = sh[2].as_static().unwrap() / 2;
        let heads =
            ops::permute(&ops::reshape(&x[0], [sh[0].clone(), sh[1].clone(), 2.into(), d.into()]), &[0, 2, 1, 3]);
        let scores = ops::matmul(&heads, &ops::transpose(&heads, -1, -2)) * 0.5;
        let keep = ops::unsqueeze(&ops::unsqueeze(&x[1], 1), 1);
        ops::softmax(&ops::select(&keep, &scores, &ops::scalar(g, f32::MIN as f64, DType::F32)), -1)
    }
);
gpu_op!(
    softmax_axis,
    ACCUMULATING,
    |rng| {
        let s = dims(&mut rng, 3);
        vec![rng.floats(&s, -8.0, 8.0)]
    },
    |g, x| ops::softmax(&x[0], 1)
);
gpu_op!(
    softmax_long_rows,
    ACCUMULATING,
    |rng| {
        let n = 1000 + rng.size();
        vec![rng.floats(&[3, n], -8.0, 8.0)]
    },
    |g, x| ops::softmax(&x[0], -1)
);
gpu_op!(
    layer_norm,
    ACCUMULATING,
    |rng| {
        let (a, n) = (rng.size(), rng.size() * 7);
        vec![rng.floats(&[a, 2, n], -3.0, 3.0), rng.floats(&[n], 0.5, 1.5), rng.floats(&[n], -1.0, 1.0)]
    },
    |g, x| ops::layer_norm(&x[0], &x[1], &x[2], 1e-12)
);
gpu_op!(
    rms_norm,
    ACCUMULATING,
    |rng| {
        let (a, n) = (rng.size(), rng.size() * 5);
        vec![rng.floats(&[a, n], -3.0, 3.0), rng.floats(&[n], 0.5, 1.5)]
    },
    |g, x| ops::rms_norm(&x[0], &x[1], 1e-6)
);
gpu_op!(
    reductions,
    ACCUMULATING,
    |rng| {
        let s = dims(&mut rng, 3);
        vec![rng.floats(&s, -3.0, 3.0)]
    },
    |g, x| {
        let s = ops::sum(&x[0], 1, true);
        let m = ops::mean(&x[0], 1, true);
        let hi = ops::max(&x[0], 1, true);
        let lo = ops::min(&x[0], 1, true);
        &(&(&s + &m) + &hi) - &lo
    }
);
gpu_op!(
    sum_ints,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 2);
        vec![rng.ints(&s, 100)]
    },
    |g, x| ops::sum(&x[0], 0, false)
);
gpu_op!(
    argmax,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 3);
        vec![rng.floats(&s, -3.0, 3.0)]
    },
    |g, x| ops::argmax(&x[0], -1, false)
);
gpu_op!(
    argmax_ties,
    ELEMENTWISE,
    |rng| {
        let s = dims(&mut rng, 2);
        vec![rng.ints(&s, 3)]
    },
    |g, x| ops::argmax(&x[0], 1, true)
);
gpu_op!(
    conv1d_whisper,
    ACCUMULATING,
    |rng| {
        let (b, c, l) = (rng.size(), 4, 10 + rng.size());
        vec![rng.floats(&[b, c, l], -1.0, 1.0), rng.floats(&[6, c, 3], -1.0, 1.0), rng.floats(&[6], -1.0, 1.0)]
    },
    |g, x| {
        ops::gelu(
            &ops::conv1d(&x[0], &x[1], Some(&x[2]), Conv1dOptions { stride: 2, padding: 1, ..Default::default() }),
            Gelu::Erf,
        )
    }
);
gpu_op!(
    conv1d_groups,
    ACCUMULATING,
    |rng| {
        let l = 9 + rng.size();
        vec![rng.floats(&[1, 4, l], -1.0, 1.0), rng.floats(&[6, 2, 2], -1.0, 1.0)]
    },
    |g, x| {
        ops::conv1d(&x[0], &x[1], None, Conv1dOptions { padding: 2, dilation: 2, groups: 2, ..Default::default() })
    }
);
// Multiples of four take the vec4 layouts (along n for a row-major B,
// along k for a transposed one); odd m keeps edge blocks in play.
gpu_op!(
    matmul_vec_n,
    ACCUMULATING,
    |rng| {
        let (b, m, k, n) = (rng.size(), rng.size(), rng.size() * 4, rng.size() * 4);
        vec![rng.floats(&[b, m, k], -1.0, 1.0), rng.floats(&[k, n], -1.0, 1.0), rng.floats(&[n], -1.0, 1.0)]
    },
    |g, x| &ops::matmul(&x[0], &x[1]) + &x[2]
);
gpu_op!(
    matmul_vec_k,
    ACCUMULATING,
    |rng| {
        let (b, m, k, n) = (rng.size(), rng.size(), rng.size() * 4, rng.size() * 4 + 1);
        vec![rng.floats(&[b, m, k], -1.0, 1.0), rng.floats(&[n, k], -1.0, 1.0)]
    },
    |g, x| ops::silu(&ops::linear(&x[0], &x[1], None))
);
gpu_op!(
    matmul_vec_k_self,
    ACCUMULATING,
    |rng| {
        let (b, s, d) = (rng.size(), rng.size(), rng.size() * 4);
        vec![rng.floats(&[b, s, d], -1.0, 1.0)]
    },
    |g, x| &ops::matmul(&x[0], &ops::transpose(&x[0], -1, -2)) + &ops::sum(&x[0], -1, true)
);
// Two matmuls meeting in one elementwise root (a gated MLP): only one can
// be that kernel's epilogue; the other keeps its buffer.
gpu_op!(
    gated_mlp_two_matmuls_one_root,
    ACCUMULATING,
    |rng| {
        let (b, s, d, f) = (rng.size(), rng.size(), rng.size() * 4, rng.size() * 4);
        vec![rng.floats(&[b, s, d], -1.0, 1.0), rng.floats(&[f, d], -1.0, 1.0), rng.floats(&[f, d], -1.0, 1.0)]
    },
    |g, x| &ops::silu(&ops::linear(&x[0], &x[1], None)) * &ops::linear(&x[0], &x[2], None)
);
