//! A LLaMA layer's attention and where its past keys and values come
//! from: none, graph inputs (HF's `past_key_values`), one cache kept on the
//! device, or one device cache per conversation slot for a step over
//! several conversations at once.

use super::{apply_rotary, LlamaConfig};
use crate::attention::{merge_heads, split_heads};
use crate::nn;
use wgraph::graph::{ops, Scope};
use wgraph::{DType, Dim, Value};

/// Names of the cache weights of [`crate::llama::LlamaGraph::Cached`] for
/// layer `i`.
pub fn cache_names(i: usize) -> [String; 2] {
    [format!("cache.{i}.key"), format!("cache.{i}.value")]
}

/// Names of slot `slot`'s cache weights for layer `i`
/// ([`crate::llama::LlamaGraph::Slots`]): [`cache_names`] under
/// `slot{slot}.`, so that sharing weights by name between slots' programs
/// shares the model and not the caches.
pub fn slot_cache_names(slot: usize, i: usize) -> [String; 2] {
    cache_names(i).map(|name| format!("slot{slot}.{name}"))
}

/// One layer's past keys and values, with the mask of what each query
/// row may attend to (`[batch, 1, seq, keys]`, true = attend).
pub(crate) enum Cache {
    /// No past: the step's own keys and values.
    Fresh(Value),
    /// Graph inputs `[batch, kv_heads, past, head_dim]`.
    Inputs { key: Value, value: Value, allowed: Value },
    /// Weights `[capacity, kv_heads, head_dim]` valid up to `past`.
    Device(DeviceCache),
    /// One device cache per conversation slot, each slot's rows attending
    /// to its own cache only.
    Slots(Vec<SlotCache>),
}

/// A slot's cache and where its rows are in the step's `[batch, heads,
/// seq, head_dim]` queries, keys and values: `start..end` along `axis`
/// (one batch row, or a run of positions in a packed step).
pub(crate) struct SlotCache {
    pub(crate) cache: DeviceCache,
    pub(crate) axis: usize,
    pub(crate) start: Dim,
    pub(crate) end: Dim,
}

/// A cache weight pair on the device and what a step may attend to.
pub(crate) struct DeviceCache {
    pub(crate) key: Value,
    pub(crate) value: Value,
    /// The positions the cache holds before this step.
    pub(crate) past: Dim,
    pub(crate) capacity: usize,
    /// The mask over `past + seq` keys (each slot has its own).
    pub(crate) allowed: Value,
}

/// A step's keys (or values) `x` (`[1, kv_heads, seq, head_dim]`) after the
/// cache's first `past` rows: returns the attention's operand `[1,
/// kv_heads, past + seq, head_dim]` and the cache with the step's rows
/// written at `past`, in the form the compiler writes back in place.
fn append_rows(cache: &Value, x: &Value, past: &Dim, capacity: usize) -> (Value, Value) {
    let d = |axis: isize| x.dim(axis).unwrap_or_else(|| Dim::new(1));
    let (kvh, seq, hd) = (d(1), d(2), d(3));
    let rows = ops::reshape(&ops::permute(x, &[0, 2, 1, 3]), [seq.clone(), kvh.clone(), hd.clone()]);
    let head = ops::slice(cache, 0, 0, past.clone());
    let end = past + &seq;
    let seen = ops::concat(&[&head, &rows], 0);
    let seen = ops::permute(&ops::reshape(&seen, [Dim::new(1), end.clone(), kvh, hd]), &[0, 2, 1, 3]);
    let tail = ops::slice(cache, 0, end, capacity);
    (seen, ops::concat(&[&head, &rows, &tail], 0))
}

/// Row `b` of `mask` (`[batch, total]`, nonzero = a token) as the bool
/// `[batch, 1, seq, total]` each query row may attend to: the last `seq`
/// of `total` positions are the queries (causal), padding masks keys.
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
    let heads_first = |t: &Value| ops::permute(t, &[0, 2, 1, 3]);
    let q = heads_first(&apply_rotary(&by_position(&q, h), cos, sin, cfg));
    let k = heads_first(&apply_rotary(&by_position(&k, kvh), cos, sin, cfg));
    let v = split_heads(&v, kvh, hd);
    let (ctx, written) = match cache {
        Cache::Fresh(allowed) => (grouped_attention(&q, &k, &v, allowed, cfg), vec![k, v]),
        Cache::Inputs { key, value, allowed } => {
            let (k, v) = (ops::concat(&[key, &k], 2), ops::concat(&[value, &v], 2));
            (grouped_attention(&q, &k, &v, allowed, cfg), vec![k, v])
        }
        Cache::Device(c) => {
            let (ctx, kw, vw) = attend_cached(&q, &k, &v, c, cfg);
            (ctx, vec![kw, vw])
        }
        Cache::Slots(slots) => {
            // Each slot's rows attend to its own cache; the products around
            // the attention see every slot's rows at once.
            let mut contexts = Vec::with_capacity(slots.len());
            let mut written = Vec::with_capacity(2 * slots.len());
            let axis = slots.first().map_or(0, |s| s.axis);
            for s in slots {
                let rows = |t: &Value| ops::slice(t, s.axis as isize, s.start.clone(), s.end.clone());
                let (ctx, kw, vw) = attend_cached(&rows(&q), &rows(&k), &rows(&v), &s.cache, cfg);
                contexts.push(ctx);
                written.extend([kw, vw]);
            }
            (ops::concat(&contexts.iter().collect::<Vec<_>>(), axis as isize), written)
        }
    };
    let merged = merge_heads(&ctx, h * hd);
    let out = s.name(nn::linear(&s.pp("o_proj"), &merged, h * hd, cfg.hidden_size, cfg.attention_bias));
    (out, written)
}

/// Attention of one batch row over a device cache: the context and the
/// cache's keys and values with the step's rows written in.
fn attend_cached(q: &Value, k: &Value, v: &Value, cache: &DeviceCache, cfg: &LlamaConfig) -> (Value, Value, Value) {
    let (keys, key_cache) = append_rows(&cache.key, k, &cache.past, cache.capacity);
    let (values, value_cache) = append_rows(&cache.value, v, &cache.past, cache.capacity);
    (grouped_attention(q, &keys, &values, &cache.allowed, cfg), key_cache, value_cache)
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
