//! The gradient of `conv1d` (stride, padding, dilation, groups), composed
//! from existing ops. With `xp` the zero-padded input and
//! `y[n, o, t] = b[o] + sum_{c, k} w[o, c, k] * xp[n, c, t*stride + k*dilation]`:
//! - bias: `g` summed over batch and length;
//! - weight: for every tap `k` a strided slice of `xp` (the window that tap
//!   reads), stacked into `[n, groups, c_in/groups * k, len_out]`, then one
//!   batched matmul with `g` and a sum over the batch;
//! - input: a transposed convolution, i.e. a stride-1 `conv1d` of `g` with
//!   `stride - 1` zeros inserted between its elements and `(k-1)*dilation`
//!   zeros in front, by the weight with in/out channels swapped per group
//!   and the taps reversed; the padding is then sliced off.

use super::movement::scatter_strided;
use crate::graph::ops::{self, Conv1dOptions};
use crate::graph::{DType, Dim, Value};

pub(crate) fn conv1d_vjp(xs: &[Value], g: &Value, o: Conv1dOptions, wants: &[bool]) -> Vec<Option<Value>> {
    let want = |i: usize| wants.get(i).copied().unwrap_or(false);
    let (x, w) = (&xs[0], &xs[1]);
    let mut out = vec![want(0).then(|| input_grad(x, w, g, o)), want(1).then(|| weight_grad(x, w, g, o))];
    if xs.len() == 3 {
        out.push(want(2).then(|| ops::sum(&ops::sum(g, 2, false), 0, false)));
    }
    out
}

/// Static sizes inference guarantees for conv1d: channels and kernel.
fn sizes(w: &Value, groups: usize) -> (usize, usize, usize) {
    let s = w.shape();
    let c_out = s[0].as_static().unwrap_or(0);
    let per_group_in = s[1].as_static().unwrap_or(0);
    let k = s[2].as_static().unwrap_or(0);
    (c_out / groups.max(1), per_group_in, k)
}

fn weight_grad(x: &Value, w: &Value, g: &Value, o: Conv1dOptions) -> Value {
    let (per_group_out, per_group_in, k) = sizes(w, o.groups);
    let (n, len, len_out) = (x.shape()[0].clone(), x.shape()[2].clone(), g.shape()[2].clone());
    let padded = scatter_strided(x, 2, &Dim::new(o.padding), 1, &(&len + &Dim::new(2 * o.padding)));
    // The span one tap reads: (len_out - 1) * stride + 1 positions.
    let span = &(&len_out * &Dim::new(o.stride)) - &Dim::new(o.stride - 1);
    let taps: Vec<Value> = (0..k)
        .map(|tap| {
            let start = Dim::new(tap * o.dilation);
            let end = &start + &span;
            ops::unsqueeze(&ops::slice_step(&padded, 2, start, end, o.stride), 2)
        })
        .collect();
    let refs: Vec<&Value> = taps.iter().collect();
    let windows = ops::concat(&refs, 2);
    let windows = ops::reshape(&windows, [n.clone(), Dim::new(o.groups), Dim::new(per_group_in * k), len_out.clone()]);
    let gg = ops::reshape(g, [n, Dim::new(o.groups), Dim::new(per_group_out), len_out]);
    let per_batch = ops::matmul(&gg, &ops::transpose(&windows, -2, -1));
    ops::reshape(&ops::sum(&per_batch, 0, false), w.shape())
}

fn input_grad(x: &Value, w: &Value, g: &Value, o: Conv1dOptions) -> Value {
    let (per_group_out, per_group_in, k) = sizes(w, o.groups);
    let len = x.shape()[2].clone();
    let padded_len = &len + &Dim::new(2 * o.padding);
    let reach = Dim::new(k.saturating_sub(1) * o.dilation);
    let spread = scatter_strided(g, 2, &reach, o.stride, &(&padded_len + &reach));
    // [c_out, c_in/groups, k] -> [c_in, c_out/groups, k], taps reversed.
    let grouped = ops::reshape(w, [o.groups, per_group_out, per_group_in, k]);
    let swapped = ops::reshape(&ops::permute(&grouped, &[0, 2, 1, 3]), [o.groups * per_group_in, per_group_out, k]);
    let reversed = ops::range(g.graph(), k as i64 - 1, -1, k, DType::I64);
    let flipped = ops::gather(&swapped, &reversed, 2);
    let opts = Conv1dOptions { stride: 1, padding: 0, dilation: o.dilation, groups: o.groups };
    let full = ops::conv1d(&spread, &flipped, None, opts);
    ops::slice(&full, 2, o.padding, &Dim::new(o.padding) + &len)
}
