//! Long reductions in two steps. A reduction kernel gives one workgroup to
//! each output element and loops over the reduced axis, so a row of
//! millions of elements (a loss summed to a scalar, a global norm) keeps one
//! workgroup busy, and on lavapipe it comes out wrong: llvmpipe stops an
//! invocation's loops after 65,535 iterations in total
//! (`LP_MAX_TGSI_LOOP_ITERATIONS`), silently dropping the rest of a row
//! longer than 64 x 65,535 elements. A `sum`, `mean`, `max` or `min` over a
//! static axis longer than [`CHUNK`] becomes a reduction of `CHUNK`-long
//! pieces, then one over the partial results, plus the tail that fills no
//! whole piece; a mean scales the sum by `1/n` at the end.

use super::error::CompileError;
use super::pass::{replace_nodes, Pass};
use crate::graph::{ops, Dim, Ir, NodeId, Op, ReduceOp, RowOp, Value};

/// The rewrite of reductions over axes longer than `CHUNK`.
pub struct SplitLongReductions;

/// The longest reduced axis kept in one kernel: 1,024 loop iterations per
/// invocation of a 64-wide row workgroup, 8,192 of an 8-wide one (CPU
/// drivers), both well inside llvmpipe's limit.
pub const CHUNK: usize = 1 << 16;

impl Pass for SplitLongReductions {
    fn name(&self) -> &'static str {
        "split-long-reductions"
    }

    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError> {
        let long: Vec<NodeId> = ir.graph.node_indices().filter(|&id| long_reduction(ir, id).is_some()).collect();
        replace_nodes(ir, &long, |graph, id| {
            let (op, axis, keep_dim, n) = long_reduction(&graph.ir_unchecked(), id)?;
            let operand = graph.ir_unchecked().operands(id)[0];
            Some(split(&graph.value(operand)?, op, axis, keep_dim, n))
        })
    }
}

/// `(op, axis, keep_dim, axis length)` of a reduction over a static axis
/// longer than [`CHUNK`] (a mean only of floats).
fn long_reduction(ir: &Ir, id: NodeId) -> Option<(ReduceOp, usize, bool, usize)> {
    let Op::Row(RowOp::Reduce { op, axis, keep_dim }) = ir.node(id).op else { return None };
    let x = ir.node(ir.operands(id)[0]);
    let n = x.ty.shape[axis].as_static()?;
    let splits = n > CHUNK && (op != ReduceOp::Mean || x.ty.dtype.is_float());
    splits.then_some((op, axis, keep_dim, n))
}

/// The reduction of `x` along `axis` (length `n`) in pieces of [`CHUNK`].
fn split(x: &Value, op: ReduceOp, axis: usize, keep_dim: bool, n: usize) -> Value {
    let reduce = |v: &Value, axis: usize, keep: bool| {
        let a = axis as isize;
        match op {
            ReduceOp::Sum | ReduceOp::Mean => ops::sum(v, a, keep),
            ReduceOp::Max => ops::max(v, a, keep),
            ReduceOp::Min => ops::min(v, a, keep),
        }
    };
    let (pieces, tail) = (n / CHUNK, n % CHUNK);
    let whole = if tail == 0 { x.clone() } else { ops::slice(x, axis as isize, 0, pieces * CHUNK) };
    let mut shape = x.shape();
    shape.splice(axis..=axis, [Dim::new(pieces), Dim::new(CHUNK)]);
    let partial = reduce(&ops::reshape(&whole, shape), axis + 1, false);
    let mut total = reduce(&partial, axis, true);
    if tail > 0 {
        let rest = reduce(&ops::slice(x, axis as isize, pieces * CHUNK, n), axis, true);
        total = match op {
            ReduceOp::Sum | ReduceOp::Mean => &total + &rest,
            ReduceOp::Max => ops::maximum(&total, &rest),
            ReduceOp::Min => ops::minimum(&total, &rest),
        };
    }
    if op == ReduceOp::Mean {
        total = &total * (1.0 / n as f64);
    }
    if keep_dim {
        total
    } else {
        ops::squeeze(&total, axis as isize)
    }
}
