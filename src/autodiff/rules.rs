//! The vector-Jacobian product of every op, in one exhaustive `match` on
//! [`Op`] (no catch-all arm: a new op is a compile error here until someone
//! decides its gradient). Each rule is a plain composition of builder ops
//! appended to the forward graph; the compiler's CSE, DCE and fusion work on
//! the result unchanged, so the rules favour being obviously right over
//! being frugal (norms recompute their statistics, for instance).
//!
//! Kinks and ties follow PyTorch (`tools/autograd/derivatives.yaml`):
//! `relu'(0) = 0`, `abs'(0) = 0`, `maximum`/`minimum` give half the gradient
//! to each operand on a tie, `amax`/`amin` reductions split it evenly among
//! all tied extrema, `sqrt'(0) = inf` (`g / (2 * sqrt(x))`), and `pow`
//! masks the 0^0 cases as PyTorch does.

use super::elementwise::{binary_vjp, unary_vjp};
use super::unbroadcast::unbroadcast;
use super::vjp::Vjp;
use super::{attention, conv, movement, row};
use crate::graph::{ops, Dim, Op, Value};

/// One gradient per operand (`None`: not wanted, or not differentiable).
/// Each gradient has its operand's shape and dtype.
pub(crate) fn vjp(c: &Vjp<'_>) -> Vec<Option<Value>> {
    let (xs, g) = (c.xs, c.g);
    match c.op {
        // Sources and generators have no operands.
        Op::Input { .. } | Op::Weight { .. } | Op::Constant { .. } | Op::Range { .. } | Op::BandMask { .. } => {
            vec![]
        }
        Op::Unary(u) => vec![if c.want(0) { unary_vjp(*u, &xs[0], c.y, g) } else { None }],
        Op::Binary(b) => {
            let (ga, gb) = binary_vjp(*b, &xs[0], &xs[1], c.y, g, c.want(0), c.want(1));
            vec![ga.map(|v| unbroadcast(&v, &xs[0].shape())), gb.map(|v| unbroadcast(&v, &xs[1].shape()))]
        }
        // Comparisons produce bool: nothing flows back through them.
        Op::Compare(_) => vec![None, None],
        // `cond ? a : b`: the gradient goes to the branch that was taken;
        // the bool condition has none.
        Op::Where => {
            let zero = ops::scalar(g.graph(), 0.0, g.dtype());
            vec![
                None,
                c.only(1, || unbroadcast(&ops::select(&xs[0], g, &zero), &xs[1].shape())),
                c.only(2, || unbroadcast(&ops::select(&xs[0], &zero, g), &xs[2].shape())),
            ]
        }
        // float -> float: cast the gradient back. A cast to an integer or
        // bool has no gradient (its output is never differentiated), and
        // an integer operand cannot be wanted.
        Op::Cast(to) => {
            let from = xs[0].dtype();
            if to.is_float() && from.is_float() {
                vec![c.only(0, || ops::cast(g, from))]
            } else {
                vec![None]
            }
        }
        Op::MatMul => {
            // y = a @ b: ga = g @ b^T, gb = a^T @ g, batch dims summed back.
            let (a, b) = (&xs[0], &xs[1]);
            vec![
                c.only(0, || unbroadcast(&ops::matmul(g, &ops::transpose(b, -2, -1)), &a.shape())),
                c.only(1, || {
                    if b.rank() == 2 && a.rank() > 2 {
                        // A Linear's weight: the sum over the batch of a_s^T g_s is
                        // one product over all rows, not a batch of products summed.
                        let rows = |v: &Value| {
                            let s = v.shape();
                            ops::reshape(v, [Dim::product(&s[..s.len() - 1]), s[s.len() - 1].clone()])
                        };
                        ops::matmul(&ops::transpose(&rows(a), -2, -1), &rows(g))
                    } else {
                        unbroadcast(&ops::matmul(&ops::transpose(a, -2, -1), g), &b.shape())
                    }
                }),
            ]
        }
        Op::Permute { perm } => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            vec![c.only(0, || ops::permute(g, &inverse))]
        }
        Op::Reshape { .. } => vec![c.only(0, || ops::reshape(g, xs[0].shape()))],
        Op::Expand { .. } => vec![c.only(0, || unbroadcast(g, &xs[0].shape()))],
        // The embedding gradient: a scatter-add into the table; the
        // integer indices have none.
        Op::Gather { axis } => vec![c.only(0, || movement::gather_vjp(&xs[0], &xs[1], *axis, g)), None],
        // Scatter-add's adjoint is the gather it undoes: update `m` reached
        // output row `indices[m]`, so it reads that row of `g`.
        Op::ScatterAdd { axis, .. } => vec![c.only(0, || ops::gather(g, &xs[1], *axis as isize)), None],
        Op::Slice { axis, start, step, .. } => {
            vec![c.only(0, || movement::scatter_strided(g, *axis, start, *step, &xs[0].shape()[*axis]))]
        }
        Op::Concat { axis } => movement::concat_vjp(xs, *axis, g, c.wants),
        Op::Row(r) => row::row_vjp(r, c),
        Op::Conv1d { stride, padding, dilation, groups } => {
            let opts = ops::Conv1dOptions { stride: *stride, padding: *padding, dilation: *dilation, groups: *groups };
            conv::conv1d_vjp(xs, g, opts, c.wants)
        }
        Op::Attention { scale, rows_first, .. } => attention::attention_vjp(c, *scale, *rows_first),
    }
}
