//! Scaled dot-product attention as HF's eager path computes it.

use wgraph::graph::ops;
use wgraph::{DType, Dim, Value};

/// Model width and head count (`dim / heads` per head).
#[derive(Debug, Clone, Copy)]
pub struct AttentionShape {
    pub dim: usize,
    pub heads: usize,
}

/// `[batch, seq, dim]` to `[batch, heads, seq, head_dim]`.
pub fn split_heads(x: &Value, heads: usize, head_dim: usize) -> Value {
    // A poisoned `x` of unknown shape stays poisoned whatever sizes are given here.
    let d = |axis: isize| x.dim(axis).unwrap_or_else(|| Dim::new(1));
    ops::permute(&ops::reshape(x, [d(0), d(1), heads.into(), head_dim.into()]), &[0, 2, 1, 3])
}

/// `[batch, heads, seq, head_dim]` back to `[batch, seq, heads*head_dim]`.
pub fn merge_heads(x: &Value, dim: usize) -> Value {
    let d = |axis: isize| x.dim(axis).unwrap_or_else(|| Dim::new(1));
    ops::reshape(&ops::permute(x, &[0, 2, 1, 3]), [d(0), d(2), dim.into()])
}

/// A padding mask `[batch, seq]` (1 = token, 0 = padding) as a bool
/// `[batch, 1, 1, seq]` that broadcasts over heads and query rows.
pub fn bidirectional_mask(attention_mask: &Value) -> Value {
    let g = attention_mask.graph();
    let keep = ops::ne(attention_mask, &ops::scalar(g, 0.0, attention_mask.dtype()));
    ops::unsqueeze(&ops::unsqueeze(&keep, 1), 1)
}

/// `softmax(q k^T / sqrt(head_dim), masked) v` with heads split and merged;
/// masked scores become the lowest f32, exactly what HF adds.
pub fn multi_head_attention(q: &Value, k: &Value, v: &Value, allowed: &Value, shape: AttentionShape) -> Value {
    let head_dim = shape.dim / shape.heads;
    attention(q, k, v, Some(allowed), shape, Some((head_dim as f64).powf(-0.5)))
}

/// Attention over projected `q`, `k`, `v` (`[batch, seq, dim]`): heads
/// split, `softmax(q k^T * scale)` with an optional bool mask (true =
/// attend), heads merged. `scale: None` means the caller already scaled `q`
/// (Whisper's order of operations).
pub fn attention(
    q: &Value,
    k: &Value,
    v: &Value,
    allowed: Option<&Value>,
    shape: AttentionShape,
    scale: Option<f64>,
) -> Value {
    let head_dim = shape.dim / shape.heads;
    let split = |x: &Value| split_heads(x, shape.heads, head_dim);
    let (q, k, v) = (split(q), split(k), split(v));
    let mut scores = ops::matmul(&q, &ops::transpose(&k, -1, -2));
    if let Some(s) = scale {
        scores = scores * s;
    }
    if let Some(allowed) = allowed {
        let lowest = ops::scalar(q.graph(), f32::MIN as f64, DType::F32);
        scores = ops::select(allowed, &scores, &lowest);
    }
    let probs = ops::softmax(&scores, -1);
    merge_heads(&ops::matmul(&probs, &v), shape.dim)
}
