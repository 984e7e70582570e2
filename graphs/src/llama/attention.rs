//! A LLaMA layer's attention and where its past keys and values come
//! from: none, graph inputs (HF's `past_key_values`), one cache kept on the
//! device, or device caches shared by several conversation slots for a
//! step over all of them at once.

use super::{apply_rotary, LlamaConfig};
use crate::attention::merge_heads;
use crate::nn;
use wgraph::graph::{ops, Scope};
use wgraph::{DType, Dim, Value};

/// Names of the cache weights of [`crate::llama::LlamaGraph::Cached`] (and
/// of the slot graphs, whose caches hold every slot) for layer `i`.
pub fn cache_names(i: usize) -> [String; 2] {
    [format!("cache.{i}.key"), format!("cache.{i}.value")]
}

/// One layer's past keys and values, with the mask of what each query
/// row may attend to (`[batch, 1, seq, keys]`, true = attend).
pub(crate) enum Cache {
    /// No past: the step's own keys and values.
    Fresh(Value),
    /// Graph inputs `[batch, kv_heads, past, head_dim]`.
    Inputs { key: Value, value: Value, allowed: Value },
    /// Weights holding one sequence's positions from row `base`, valid up
    /// to `past`.
    Device(DeviceCache),
    /// Weights shared by every conversation slot, each slot's rows
    /// attending to its own region only.
    Slots(SlotCaches),
}

/// A cache weight pair on the device and what a step may attend to.
pub(crate) struct DeviceCache {
    pub(crate) key: Value,
    pub(crate) value: Value,
    /// The positions the cache holds before this step.
    pub(crate) past: Dim,
    /// Where the sequence's positions start in the weights (its slot's
    /// region of caches shared by several slots; else 0).
    pub(crate) base: usize,
    /// The mask over `past + seq` keys.
    pub(crate) allowed: Value,
}

/// Cache weights `[slots * capacity, kv_heads, head_dim]`, slot `b`'s
/// positions from row `b * capacity`, and where each slot's rows are in
/// the step.
pub(crate) struct SlotCaches {
    pub(crate) key: Value,
    pub(crate) value: Value,
    pub(crate) capacity: usize,
    pub(crate) slots: Vec<SlotRows>,
    pub(crate) layout: SlotLayout,
}

/// Where a step's rows are and what they attend to.
#[derive(Clone)]
pub(crate) enum SlotLayout {
    /// One token per slot, slot `b` in batch row `b`: every slot attends
    /// to the first `keys` positions of its region as `allowed` (`[slots,
    /// 1, 1, keys]`) says, in one attention for all.
    OneEach { keys: Dim, allowed: Value },
    /// Each slot's tokens one after another along the sequence, each
    /// slot's attention over its own region: `allowed[b]` (`[1, 1, len_b,
    /// past_b + len_b]`) is what slot `b`'s rows may attend to.
    Packed { allowed: Vec<Value> },
}

/// One slot's share of a step.
pub(crate) struct SlotRows {
    /// The positions its region holds before this step.
    pub(crate) past: Dim,
    /// Its rows along the step's sequence (packed) or batch axis.
    pub(crate) start: Dim,
    pub(crate) end: Dim,
}

/// A cache weight with `blocks` (position-major rows `[len, kv_heads,
/// head_dim]`, each landing at its row) written in, in the form the
/// compiler writes back in place: the weight's slices between the blocks
/// and the blocks, joined. The blocks must be in row order.
fn written(cache: &Value, blocks: &[(Dim, Value)]) -> Value {
    let rows = cache.dim(0).unwrap_or_else(|| Dim::new(0));
    let mut parts = Vec::with_capacity(2 * blocks.len() + 1);
    let mut end = Dim::new(0);
    for (at, block) in blocks {
        parts.push(ops::slice(cache, 0, end.clone(), at.clone()));
        parts.push(block.clone());
        end = at + &block.dim(0).unwrap_or_else(|| Dim::new(0));
    }
    parts.push(ops::slice(cache, 0, end, rows));
    ops::concat(&parts.iter().collect::<Vec<_>>(), 0)
}

/// `[.., kv_heads, head_dim]` rows of one sequence as the attention's
/// `[1, kv_heads, len, head_dim]`.
fn heads_first(rows: &Value) -> Value {
    let d = |axis: isize| rows.dim(axis).unwrap_or_else(|| Dim::new(1));
    ops::permute(&ops::reshape(rows, [Dim::new(1), d(-3), d(-2), d(-1)]), &[0, 2, 1, 3])
}

/// Row `b` of the mask `mask` (`[batch, total]`, nonzero = a token) as
/// the bool `[batch, 1, seq, total]` each query row may attend to: the
/// last `seq` of `total` positions are the queries (causal), padding masks
/// keys.
pub(crate) fn allowed_keys(mask: &Value, seq: &Dim, total: Dim) -> Value {
    let g = mask.graph();
    let causal = ops::causal_mask(g, seq.clone(), total);
    let keep = ops::ne(mask, &ops::scalar(g, 0.0, DType::I64));
    ops::unsqueeze(&ops::and(&ops::unsqueeze(&causal, 0), &ops::unsqueeze(&keep, 1)), 1)
}

/// The layer's attention output and what it writes to its caches (the
/// step's keys and values where the cache is the caller's: `present`).
pub(crate) fn self_attention(
    s: &Scope,
    cfg: &LlamaConfig,
    x: &Value,
    cos: &Value,
    sin: &Value,
    cache: &Cache,
) -> (Value, Vec<Value>) {
    let (h, kvh, hd) = (cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim);
    let q = nn::linear(&s.pp("q_proj"), x, cfg.hidden_size, h * hd, cfg.attention_bias);
    let k = nn::linear(&s.pp("k_proj"), x, cfg.hidden_size, kvh * hd, cfg.attention_bias);
    let v = nn::linear(&s.pp("v_proj"), x, cfg.hidden_size, kvh * hd, cfg.attention_bias);
    // Rotary embeddings turn each position's features alone: applied while
    // positions still come before heads, their output is laid out as the
    // position-major cache is, so a cache write takes its rows as a view.
    let d = |axis: isize| x.dim(axis).unwrap_or_else(|| Dim::new(1));
    let by_position = |t: &Value, heads: usize| ops::reshape(t, [d(0), d(1), heads.into(), hd.into()]);
    let to_heads = |t: &Value| ops::permute(t, &[0, 2, 1, 3]);
    let q = to_heads(&apply_rotary(&by_position(&q, h), cos, sin, cfg));
    let (k_rows, v_rows) = (apply_rotary(&by_position(&k, kvh), cos, sin, cfg), by_position(&v, kvh));
    let (k, v) = (to_heads(&k_rows), to_heads(&v_rows));
    let (ctx, written) = match cache {
        Cache::Fresh(allowed) => (grouped_attention(&q, &k, &v, allowed, cfg), vec![k, v]),
        Cache::Inputs { key, value, allowed } => {
            let (k, v) = (ops::concat(&[key, &k], 2), ops::concat(&[value, &v], 2));
            (grouped_attention(&q, &k, &v, allowed, cfg), vec![k, v])
        }
        Cache::Device(c) => {
            // `[1, seq, kv_heads, head_dim]` rows as the cache's `[seq, ..]`.
            let rows = |t: &Value| ops::reshape(t, [d(1), kvh.into(), hd.into()]);
            let (ctx, kw, vw) = attend_cached(&q, &rows(&k_rows), &rows(&v_rows), c, cfg);
            (ctx, vec![kw, vw])
        }
        Cache::Slots(c) => attend_slots(&q, &k_rows, &v_rows, c, cfg),
    };
    let merged = merge_heads(&ctx, h * hd);
    let out = s.name(nn::linear(&s.pp("o_proj"), &merged, h * hd, cfg.hidden_size, cfg.attention_bias));
    (out, written)
}

/// Attention of one sequence over its device cache: the context and the
/// caches with the step's rows (`[seq, kv_heads, head_dim]`) written in at
/// `base + past`. The keys are the cache's first `base + past` rows with the
/// new ones after them, from `base` on: the weight's rows once the new ones
/// are in, read in place.
fn attend_cached(q: &Value, k: &Value, v: &Value, cache: &DeviceCache, cfg: &LlamaConfig) -> (Value, Value, Value) {
    let at = &Dim::new(cache.base) + &cache.past;
    let seq = k.dim(0).unwrap_or_else(|| Dim::new(1));
    let seen = |weight: &Value, rows: &Value| {
        let head = ops::slice(weight, 0, 0, at.clone());
        let through = ops::concat(&[&head, rows], 0);
        heads_first(&ops::slice(&through, 0, cache.base, &at + &seq))
    };
    let (keys, values) = (seen(&cache.key, k), seen(&cache.value, v));
    let ctx = grouped_attention(q, &keys, &values, &cache.allowed, cfg);
    (ctx, written(&cache.key, &[(at.clone(), k.clone())]), written(&cache.value, &[(at, v.clone())]))
}

/// Every slot's rows of the step (`[batch, seq, kv_heads, head_dim]`
/// keys and values) written into the shared caches at `b * capacity +
/// past_b`, and each slot's attention over its own region of the new
/// caches, read in place.
fn attend_slots(q: &Value, k: &Value, v: &Value, c: &SlotCaches, cfg: &LlamaConfig) -> (Value, Vec<Value>) {
    let (kvh, hd) = (Dim::new(cfg.num_key_value_heads), Dim::new(cfg.head_dim));
    let one_each = matches!(c.layout, SlotLayout::OneEach { .. });
    // Slot `b`'s rows `[len, kv_heads, head_dim]`: its batch row, or its run of the sequence.
    let rows = |t: &Value, s: &SlotRows| {
        let axis = if one_each { 0 } else { 1 };
        ops::reshape(&ops::slice(t, axis, s.start.clone(), s.end.clone()), [&s.end - &s.start, kvh.clone(), hd.clone()])
    };
    let region = |b: usize| Dim::new(b * c.capacity);
    let blocks = |t: &Value| -> Vec<(Dim, Value)> {
        c.slots.iter().enumerate().map(|(b, s)| (&region(b) + &s.past, rows(t, s))).collect()
    };
    let (key, value) = (written(&c.key, &blocks(k)), written(&c.value, &blocks(v)));
    let ctx = match &c.layout {
        SlotLayout::OneEach { keys, allowed } => {
            // `[slots, keys, kv_heads, head_dim]`: each slot's region's first rows.
            let seen = |cache: &Value| {
                let by_slot =
                    ops::reshape(cache, [Dim::new(c.slots.len()), Dim::new(c.capacity), kvh.clone(), hd.clone()]);
                ops::permute(&ops::slice(&by_slot, 1, 0, keys.clone()), &[0, 2, 1, 3])
            };
            grouped_attention(q, &seen(&key), &seen(&value), allowed, cfg)
        }
        SlotLayout::Packed { allowed } => {
            let contexts: Vec<Value> = c
                .slots
                .iter()
                .zip(allowed)
                .enumerate()
                .map(|(b, (s, allowed))| {
                    let end = &(&region(b) + &s.past) + &(&s.end - &s.start);
                    let seen = |cache: &Value| heads_first(&ops::slice(cache, 0, region(b), end.clone()));
                    let q = ops::slice(q, 2, s.start.clone(), s.end.clone());
                    grouped_attention(&q, &seen(&key), &seen(&value), allowed, cfg)
                })
                .collect();
            ops::concat(&contexts.iter().collect::<Vec<_>>(), 2)
        }
    };
    (ctx, vec![key, value])
}

/// Attention with `num_key_value_heads` KV heads under
/// `num_attention_heads` query heads.
fn grouped_attention(q: &Value, k: &Value, v: &Value, allowed: &Value, cfg: &LlamaConfig) -> Value {
    let (h, kvh, hd) = (cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim);
    if kvh == h {
        return attend(q, k, v, allowed, hd);
    }
    // Grouped-query attention: query heads as `[kv_heads, n_rep]`, each
    // KV head broadcast over its group (a stride-0 view, where HF's
    // `repeat_kv` copies it `n_rep` times); the numbers are HF's.
    let (rep, d) = (h / kvh, |v: &Value, axis: isize| v.dim(axis).unwrap_or_else(|| Dim::new(1)));
    let grouped = |t: &Value| {
        let shape = [d(t, 0), Dim::new(kvh), Dim::new(rep), d(t, 2), Dim::new(hd)];
        ops::expand(&ops::unsqueeze(t, 2), shape)
    };
    let q5 = ops::reshape(q, [d(q, 0), Dim::new(kvh), Dim::new(rep), d(q, 2), Dim::new(hd)]);
    let ctx = attend(&q5, &grouped(k), &grouped(v), &ops::unsqueeze(allowed, 1), hd);
    ops::reshape(&ctx, [d(q, 0), Dim::new(h), d(q, 2), Dim::new(hd)])
}

/// `softmax(mask(q k^T / sqrt(head_dim))) v` over the last two axes (any
/// batch axes), masked positions at f32's lowest value as HF's eager path.
fn attend(q: &Value, k: &Value, v: &Value, allowed: &Value, hd: usize) -> Value {
    let scores = ops::matmul(q, &ops::transpose(k, -1, -2)) * (hd as f64).powf(-0.5);
    let lowest = ops::scalar(q.graph(), f32::MIN as f64, DType::F32);
    let probs = ops::softmax(&ops::select(allowed, &scores, &lowest), -1);
    ops::matmul(&probs, v)
}
