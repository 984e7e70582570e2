//! Fused attention: `matmul(softmax(select(mask, matmul(q, k^T) * scale,
//! lowest)), v)` (scale and mask optional) becomes one [`Op::Attention`]
//! node whose kernel never writes the `[.., q_len, k_len]` scores or
//! probabilities to memory. It fires only when nothing else reads the
//! scores, their scaled or masked forms or the probabilities (a training
//! graph's backward reads the probabilities: left alone), when the softmax
//! runs over the key axis, and when q, k and v share their batch dims.

use super::error::CompileError;
use super::pass::{replace_nodes, Pass};
use crate::graph::{ops, BinaryOp, DType, Ir, NodeId, Op, RowOp};
use petgraph::Direction;

/// The most keys a fused kernel walks: one invocation loops once per key,
/// and llvmpipe stops an invocation's loops after 65,535 iterations in
/// total (see split_reduce.rs), so a longer static key axis stays with the
/// matmul and softmax kernels. (A symbolic one is fused: lavapipe runs
/// nothing that long in practice.)
pub const MAX_KEYS: usize = 65_000;

/// The rewrite of attention patterns into [`Op::Attention`].
///
/// It applies at every size: on lavapipe the fused kernel beat the two
/// matmuls and the softmax from 8 to 1,500 keys and head dims 8 to 64
/// (BENCHMARKS.md, "Fused attention"), so there is no size threshold.
pub struct FuseAttention {
    /// Tapped names (`*`: every named value): a tapped score or
    /// probability must reach a buffer, so its attention stays unfused.
    pub taps: Vec<String>,
}

/// One match: the final matmul and the operands of the fused op.
struct Found {
    out: NodeId,
    q: NodeId,
    /// `k` itself, or `k^T` when it is not a transpose of something.
    k: Result<NodeId, NodeId>,
    v: NodeId,
    mask: Option<NodeId>,
    scale: Option<f64>,
}

impl Pass for FuseAttention {
    fn name(&self) -> &'static str {
        "fuse-attention"
    }

    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError> {
        let found: Vec<Found> = ir.graph.node_indices().filter_map(|id| self.find(ir, id)).collect();
        // An attention whose only reader swaps its rows with the heads (the
        // multi-head output's permute) writes that layout itself: the
        // permute was a copy of the whole result.
        let targets: Vec<(NodeId, bool)> = found.iter().map(|f| self.rows_first_reader(ir, f.out)).collect();
        let replaced: Vec<NodeId> = targets.iter().map(|&(t, _)| t).collect();
        replace_nodes(ir, &replaced, |graph, target| {
            let i = targets.iter().position(|&(t, _)| t == target)?;
            let (f, rows_first) = (&found[i], targets[i].1);
            let value = |id: NodeId| graph.value(id);
            let k = match f.k {
                Ok(k) => value(k)?,
                Err(kt) => ops::transpose(&value(kt)?, -1, -2),
            };
            let mask = match f.mask {
                Some(m) => Some(value(m)?),
                None => None,
            };
            let (q, v) = (value(f.q)?, value(f.v)?);
            Some(if rows_first {
                ops::attention_rows_first(&q, &k, &v, mask.as_ref(), f.scale)
            } else {
                ops::attention(&q, &k, &v, mask.as_ref(), f.scale)
            })
        })
    }
}

impl FuseAttention {
    /// The node the fused attention replaces: the permute reading `out`
    /// when it is `out`'s only reader and swaps the query rows with the
    /// axis before them (`(permute, true)`), else `out` itself.
    fn rows_first_reader(&self, ir: &Ir, out: NodeId) -> (NodeId, bool) {
        let mut readers = ir.graph.neighbors_directed(out, Direction::Outgoing);
        let (Some(reader), None) = (readers.next(), readers.next()) else { return (out, false) };
        let swaps = match &ir.node(reader).op {
            Op::Permute { perm } => swaps_rows_and_heads(perm),
            _ => false,
        };
        if swaps && self.private(ir, out) {
            (reader, true)
        } else {
            (out, false)
        }
    }
}

impl FuseAttention {
    /// The attention pattern ending at the matmul `out`, if it is one.
    fn find(&self, ir: &Ir, out: NodeId) -> Option<Found> {
        let Op::MatMul = ir.node(out).op else { return None };
        let [probs, v] = ir.operands(out)[..] else { return None };
        let Op::Row(RowOp::Softmax { axis }) = ir.node(probs).op else { return None };
        let rank = ir.node(probs).ty.rank();
        if axis + 1 != rank || !self.private(ir, probs) {
            return None;
        }
        let mut x = ir.operands(probs)[0];
        let mut mask = None;
        if let Op::Where = ir.node(x).op {
            let [cond, a, b] = ir.operands(x)[..] else { return None };
            let lowest = scalar_constant(ir, b).is_some_and(|c| c == f32::MIN as f64);
            if !lowest || !self.private(ir, x) || ir.node(a).ty.shape != ir.node(x).ty.shape {
                return None;
            }
            mask = Some(cond);
            x = a;
        }
        let mut scale = None;
        if let Op::Binary(BinaryOp::Mul) = ir.node(x).op {
            let [a, b] = ir.operands(x)[..] else { return None };
            let (c, other) = match (scalar_constant(ir, a), scalar_constant(ir, b)) {
                (_, Some(c)) => (c, a),
                (Some(c), None) => (c, b),
                (None, None) => return None,
            };
            if !self.private(ir, x) || ir.node(other).ty.shape != ir.node(x).ty.shape {
                return None;
            }
            scale = Some(c);
            x = other;
        }
        let Op::MatMul = ir.node(x).op else { return None };
        let [q, kt] = ir.operands(x)[..] else { return None };
        if !self.private(ir, x) {
            return None;
        }
        let (tq, tkt, tv) = (&ir.node(q).ty, &ir.node(kt).ty, &ir.node(v).ty);
        let r = tq.rank();
        let same_batch = tkt.rank() == r && tv.rank() == r && tkt.shape[..r - 2] == tq.shape[..r - 2];
        let same_batch = same_batch && tv.shape[..r - 2] == tq.shape[..r - 2];
        let f32s = [tq, tkt, tv].iter().all(|t| t.dtype == DType::F32);
        let static_heads = tq.shape[r - 1].is_static() && tv.shape[r - 1].is_static();
        let keys_fit = tkt.shape[r - 1].as_static().is_none_or(|n| n <= MAX_KEYS);
        if !(same_batch && f32s && static_heads && keys_fit) {
            return None;
        }
        let k = match &ir.node(kt).op {
            Op::Permute { perm } if swaps_last_two(perm) => Ok(ir.operands(kt)[0]),
            _ => Err(kt),
        };
        Some(Found { out, q, k, v, mask, scale })
    }
}

impl FuseAttention {
    /// Whether `id` is read exactly once, is no graph output and is not tapped.
    fn private(&self, ir: &Ir, id: NodeId) -> bool {
        let tapped = ir.node(id).names().any(|n| self.taps.iter().any(|t| t == "*" || t == n));
        ir.graph.edges_directed(id, Direction::Outgoing).count() == 1
            && !ir.outputs.iter().any(|(_, o)| *o == id)
            && !tapped
    }
}

/// The value of a one-element constant.
fn scalar_constant(ir: &Ir, id: NodeId) -> Option<f64> {
    let Op::Constant { value } = &ir.node(id).op else { return None };
    (value.numel() == 1).then(|| value.to_f64_vec()[0])
}

/// `[0, 1, .., r-1, r-2]`.
/// Whether `perm` swaps the two axes before the last and keeps the rest.
fn swaps_rows_and_heads(perm: &[usize]) -> bool {
    let r = perm.len();
    r >= 3
        && perm[r - 3] == r - 2
        && perm[r - 2] == r - 3
        && perm[r - 1] == r - 1
        && perm[..r - 3].iter().enumerate().all(|(i, &p)| i == p)
}

fn swaps_last_two(perm: &[usize]) -> bool {
    let r = perm.len();
    r >= 2 && perm[r - 2] == r - 1 && perm[r - 1] == r - 2 && perm[..r - 2].iter().enumerate().all(|(i, &p)| i == p)
}
