//! Every differentiable op's gradient against central finite differences,
//! in f64 on the interpreter. Each test builds `loss = sum(op(x) * c)` with a
//! fixed random cotangent `c`, so the whole vector-Jacobian product is
//! checked, on random small shapes with broadcasting and size-1 dims, three
//! seeds each. Inputs stay away from kinks and ties (their rules are
//! checked with hand-computed values in tests/autodiff.rs).

mod common;

use common::gpu::Rng;
use common::grad::{away, broadcastable, check_grad, dims, floats, ints, random, shaped, size};
use wgraph::autodiff::{cross_entropy, mse_loss};
use wgraph::graph::ops::{self, Conv1dOptions, Gelu};
use wgraph::{DType, Dim, Graph, Tensor, Value};

/// One test per op: three seeds, each drawing fresh shapes and values.
macro_rules! grad_op {
    ($name:ident, |$rng:ident| $inputs:expr, |$g:ident, $x:ident| $body:expr) => {
        #[test]
        fn $name() {
            for seed in 0..3u64 {
                let mut $rng = Rng(seed * 7919 + 17);
                let inputs: Vec<Tensor> = $inputs;
                #[allow(unused_variables)]
                check_grad(
                    &format!("{} seed {seed}", stringify!($name)),
                    inputs,
                    &mut $rng,
                    |$g: &Graph, $x: &[Value]| $body,
                );
            }
        }
    };
}

macro_rules! unary_grads {
    ($($name:ident: $gen:ident($lo:expr, $hi:expr) => |$x:ident| $body:expr;)*) => {$(
        grad_op!($name, |rng| { let s = dims(&mut rng, 3); vec![$gen(&mut rng, &s, $lo, $hi)] }, |g, x| { let $x = &x[0]; $body });
    )*};
}

unary_grads! {
    neg: floats(-3.0, 3.0) => |x| -x;
    abs: away(0.1, 3.0) => |x| ops::abs(x);
    exp: floats(-3.0, 3.0) => |x| ops::exp(x);
    log: floats(0.1, 5.0) => |x| ops::log(x);
    sqrt: floats(0.1, 5.0) => |x| ops::sqrt(x);
    rsqrt: floats(0.1, 5.0) => |x| ops::rsqrt(x);
    recip: away(0.2, 3.0) => |x| ops::recip(x);
    tanh: floats(-3.0, 3.0) => |x| ops::tanh(x);
    sigmoid: floats(-6.0, 6.0) => |x| ops::sigmoid(x);
    relu: away(0.1, 3.0) => |x| ops::relu(x);
    silu: floats(-5.0, 5.0) => |x| ops::silu(x);
    gelu_erf: floats(-4.0, 4.0) => |x| ops::gelu(x, Gelu::Erf);
    gelu_tanh: floats(-4.0, 4.0) => |x| ops::gelu(x, Gelu::Tanh);
    erf: floats(-2.5, 2.5) => |x| ops::erf(x);
    sin: floats(-4.0, 4.0) => |x| ops::sin(x);
    cos: floats(-4.0, 4.0) => |x| ops::cos(x);
    cast_f64: floats(-3.0, 3.0) => |x| ops::cast(x, DType::F64);
    squared: floats(-3.0, 3.0) => |x| x * x;
}

macro_rules! binary_grads {
    ($($name:ident: $gen:ident($lo:expr, $hi:expr) => |$a:ident, $b:ident| $body:expr;)*) => {$(
        grad_op!($name, |rng| {
            let s = dims(&mut rng, 3);
            let t = broadcastable(&mut rng, &s);
            // Either side may be the broadcast one.
            let (sa, sb) = if rng.below(2) == 0 { (s, t) } else { (t, s) };
            vec![floats(&mut rng, &sa, -3.0, 3.0), $gen(&mut rng, &sb, $lo, $hi)]
        }, |g, x| { let ($a, $b) = (&x[0], &x[1]); $body });
    )*};
}

binary_grads! {
    add: floats(-3.0, 3.0) => |a, b| a + b;
    sub: floats(-3.0, 3.0) => |a, b| a - b;
    mul: floats(-3.0, 3.0) => |a, b| a * b;
    div: away(0.5, 3.0) => |a, b| a / b;
    maximum: floats(-3.0, 3.0) => |a, b| ops::maximum(a, b);
    minimum: floats(-3.0, 3.0) => |a, b| ops::minimum(a, b);
    scalar_ops: floats(-3.0, 3.0) => |a, b| &(1.5 - &(a * 0.125)) * b;
}

grad_op!(
    pow,
    |rng| {
        let s = dims(&mut rng, 3);
        let t = broadcastable(&mut rng, &s);
        vec![floats(&mut rng, &s, 0.2, 3.0), floats(&mut rng, &t, -2.0, 2.0)]
    },
    |g, x| ops::pow(&x[0], &x[1])
);
grad_op!(
    pow_broadcast_base,
    |rng| {
        let s = dims(&mut rng, 2);
        let t = broadcastable(&mut rng, &s);
        vec![floats(&mut rng, &t, 0.2, 3.0), floats(&mut rng, &s, -2.0, 2.0)]
    },
    |g, x| ops::pow(&x[0], &x[1])
);
grad_op!(
    where_select,
    |rng| {
        let s = dims(&mut rng, 3);
        let (t, u) = (broadcastable(&mut rng, &s), broadcastable(&mut rng, &s));
        vec![rng.bools(&s), floats(&mut rng, &t, -3.0, 3.0), floats(&mut rng, &u, -3.0, 3.0)]
    },
    |g, x| ops::select(&x[0], &x[1], &x[2])
);
grad_op!(
    where_broadcast_cond,
    |rng| {
        let s = dims(&mut rng, 3);
        let c = broadcastable(&mut rng, &s);
        vec![rng.bools(&c), floats(&mut rng, &s, -3.0, 3.0), floats(&mut rng, &[1], -3.0, 3.0)]
    },
    |g, x| ops::select(&x[0], &x[1], &x[2])
);

// ---- linear algebra -----------------------------------------------------

grad_op!(
    matmul_2d,
    |rng| {
        let (m, k, n) = (size(&mut rng), size(&mut rng), size(&mut rng));
        vec![floats(&mut rng, &[m, k], -2.0, 2.0), floats(&mut rng, &[k, n], -2.0, 2.0)]
    },
    |g, x| ops::matmul(&x[0], &x[1])
);
grad_op!(
    matmul_batched_broadcast,
    |rng| {
        let (b, m, k, n) = (size(&mut rng) + 1, size(&mut rng), size(&mut rng), size(&mut rng));
        vec![floats(&mut rng, &[b, 1, m, k], -2.0, 2.0), floats(&mut rng, &[3, k, n], -2.0, 2.0)]
    },
    |g, x| ops::matmul(&x[0], &x[1])
);
grad_op!(
    matmul_weight_shared,
    |rng| {
        let (b, m, k, n) = (size(&mut rng), size(&mut rng), size(&mut rng), size(&mut rng));
        vec![
            floats(&mut rng, &[b, m, k], -2.0, 2.0),
            floats(&mut rng, &[n, k], -2.0, 2.0),
            floats(&mut rng, &[n], -1.0, 1.0),
        ]
    },
    |g, x| ops::linear(&x[0], &x[1], Some(&x[2]))
);
grad_op!(
    matmul_left_shared,
    |rng| {
        let (b, m, k, n) = (size(&mut rng), size(&mut rng), size(&mut rng), size(&mut rng));
        vec![floats(&mut rng, &[m, k], -2.0, 2.0), floats(&mut rng, &[b, 1, k, n], -2.0, 2.0)]
    },
    |g, x| ops::matmul(&x[0], &x[1])
);

// ---- movement -------------------------------------------------------------

grad_op!(permute, |rng| vec![random(&mut rng, 4, -1.0, 1.0)], |g, x| ops::permute(&x[0], &[2, 0, 3, 1]));
grad_op!(transpose, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| ops::transpose(&x[0], 0, -1));
grad_op!(reshape, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| {
    let s = x[0].shape();
    ops::reshape(&x[0], [&s[0] * &s[1], s[2].clone()])
});
grad_op!(unsqueeze_squeeze, |rng| vec![shaped(&mut rng, &[0, 1, 0], -1.0, 1.0)], |g, x| {
    ops::unsqueeze(&ops::squeeze(&x[0], 1), 0)
});
grad_op!(
    expand,
    |rng| {
        let s = dims(&mut rng, 3);
        let t = broadcastable(&mut rng, &s);
        vec![floats(&mut rng, &t, -1.0, 1.0), floats(&mut rng, &[1], 0.0, 1.0)]
    },
    |g, x| {
        // The target shape: two new leading axes, every 1 grown to 3.
        let target: Vec<Dim> = [Dim::new(2), Dim::new(3)]
            .into_iter()
            .chain(x[0].shape().into_iter().map(|d| if d == Dim::new(1) { Dim::new(3) } else { d }))
            .collect();
        &ops::expand(&x[0], target) * &x[1]
    }
);
grad_op!(
    slice,
    |rng| {
        let n = size(&mut rng) + 3;
        vec![shaped(&mut rng, &[0, n, 0], -1.0, 1.0)]
    },
    |g, x| {
        let n = x[0].shape()[1].as_static().unwrap();
        ops::slice(&x[0], 1, 1, n - 1)
    }
);
grad_op!(slice_prefix_and_suffix, |rng| vec![shaped(&mut rng, &[0, 6], -1.0, 1.0)], |g, x| {
    &ops::slice(&x[0], -1, 0, 2) * &ops::slice(&x[0], -1, 4, 6)
});
grad_op!(slice_step_2, |rng| vec![shaped(&mut rng, &[0, 9, 0], -1.0, 1.0)], |g, x| {
    ops::slice_step(&x[0], 1, 1, 8, 2)
});
grad_op!(
    slice_step_3,
    |rng| {
        let n = size(&mut rng) + 6;
        vec![shaped(&mut rng, &[n, 0], -1.0, 1.0)]
    },
    |g, x| {
        let n = x[0].shape()[0].as_static().unwrap();
        ops::slice_step(&x[0], 0, 2, n, 3)
    }
);
grad_op!(slice_step_whole_axis, |rng| vec![shaped(&mut rng, &[0, 7], -1.0, 1.0)], |g, x| {
    ops::slice_step(&x[0], 1, 0, 7, 2)
});
grad_op!(
    concat,
    |rng| {
        let (a, b) = (size(&mut rng), size(&mut rng));
        vec![
            floats(&mut rng, &[a, 2, b], -1.0, 1.0),
            floats(&mut rng, &[a, 3, b], -1.0, 1.0),
            floats(&mut rng, &[a, 1, b], -1.0, 1.0),
        ]
    },
    |g, x| ops::concat(&[&x[0], &x[1], &x[2], &x[0]], 1)
);
grad_op!(
    gather_embedding,
    |rng| {
        let (vocab, d) = (size(&mut rng) + 1, size(&mut rng));
        let ids = [size(&mut rng), size(&mut rng) + 2];
        vec![floats(&mut rng, &[vocab, d], -1.0, 1.0), ints(&mut rng, &ids, vocab)]
    },
    |g, x| ops::gather(&x[0], &x[1], 0)
);
grad_op!(
    gather_middle_axis,
    |rng| {
        let (a, n, b) = (size(&mut rng), size(&mut rng) + 1, size(&mut rng));
        let m = size(&mut rng) + 3;
        vec![floats(&mut rng, &[a, n, b], -1.0, 1.0), ints(&mut rng, &[m], n)]
    },
    |g, x| ops::gather(&x[0], &x[1], 1)
);
grad_op!(
    gather_last_axis_scalar_index,
    |rng| {
        let (a, n) = (size(&mut rng), size(&mut rng) + 1);
        vec![floats(&mut rng, &[a, n], -1.0, 1.0), Tensor::scalar((n - 1) as i64)]
    },
    |g, x| ops::gather(&x[0], &x[1], -1)
);

// ---- rows -----------------------------------------------------------------

grad_op!(
    layer_norm,
    |rng| {
        let s = dims(&mut rng, 3);
        let d = [s[2] + 1];
        let s = [s[0], s[1], d[0]];
        vec![floats(&mut rng, &s, -2.0, 2.0), floats(&mut rng, &d, 0.5, 1.5), floats(&mut rng, &d, -1.0, 1.0)]
    },
    |g, x| ops::layer_norm(&x[0], &x[1], &x[2], 1e-5)
);
grad_op!(
    rms_norm,
    |rng| {
        let s = dims(&mut rng, 3);
        vec![floats(&mut rng, &s, -2.0, 2.0), floats(&mut rng, &s[2..], 0.5, 1.5)]
    },
    |g, x| ops::rms_norm(&x[0], &x[1], 1e-6)
);
grad_op!(softmax_last, |rng| vec![random(&mut rng, 3, -3.0, 3.0)], |g, x| ops::softmax(&x[0], -1));
grad_op!(softmax_first, |rng| vec![random(&mut rng, 3, -3.0, 3.0)], |g, x| ops::softmax(&x[0], 0));
grad_op!(sum_keep, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| ops::sum(&x[0], 1, true));
grad_op!(sum_drop, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| ops::sum(&x[0], -1, false));
grad_op!(mean_keep, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| ops::mean(&x[0], 0, true));
grad_op!(mean_drop, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| ops::mean(&x[0], 1, false));
grad_op!(max_keep, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| ops::max(&x[0], 2, true));
grad_op!(max_drop, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| ops::max(&x[0], 0, false));
grad_op!(min_keep, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| ops::min(&x[0], 1, true));
grad_op!(min_drop, |rng| vec![random(&mut rng, 3, -1.0, 1.0)], |g, x| ops::min(&x[0], -1, false));

// ---- convolution ------------------------------------------------------------

/// x `[n, c_in, len]`, w `[c_out, c_in/groups, k]`, bias `[c_out]`, with a
/// length long enough for the kernel's reach.
fn conv_inputs(rng: &mut Rng, o: Conv1dOptions, k: usize) -> Vec<Tensor> {
    let (c_in, c_out) = (o.groups * (1 + rng.below(2)), o.groups * (1 + rng.below(3)));
    let reach = o.dilation * (k - 1) + 1;
    let len = reach.saturating_sub(2 * o.padding).max(1) + rng.below(5);
    let batch = 1 + rng.below(2);
    vec![
        floats(rng, &[batch, c_in, len], -1.0, 1.0),
        floats(rng, &[c_out, c_in / o.groups, k], -1.0, 1.0),
        floats(rng, &[c_out], -1.0, 1.0),
    ]
}

macro_rules! conv_grads {
    ($($name:ident: k $k:expr, $stride:expr, $padding:expr, $dilation:expr, $groups:expr, bias $bias:expr;)*) => {$(
        grad_op!($name, |rng| {
            let o = Conv1dOptions { stride: $stride, padding: $padding, dilation: $dilation, groups: $groups };
            let mut inputs = conv_inputs(&mut rng, o, $k);
            if !$bias { inputs.pop(); }
            inputs
        }, |g, x| {
            let o = Conv1dOptions { stride: $stride, padding: $padding, dilation: $dilation, groups: $groups };
            ops::conv1d(&x[0], &x[1], x.get(2), o)
        });
    )*};
}

conv_grads! {
    conv1d_plain: k 3, 1, 0, 1, 1, bias true;
    conv1d_whisper: k 3, 2, 1, 1, 1, bias true;
    conv1d_dilated: k 3, 1, 2, 2, 1, bias false;
    conv1d_groups: k 2, 1, 1, 1, 2, bias true;
    conv1d_everything: k 3, 3, 2, 2, 2, bias true;
    conv1d_pointwise: k 1, 2, 0, 1, 3, bias false;
}

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
