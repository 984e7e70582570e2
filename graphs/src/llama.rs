//! LLaMA-style decoders (`model_type: llama`; minimind-style models follow
//! the same recipe), mirroring HF's `modeling_llama.py`: RMSNorm, rotary
//! embeddings (HF's half-split layout unless the config says otherwise)
//! with `rope_theta` from the config, grouped-query attention, SiLU-gated
//! MLP, causal mask, tied or untied `lm_head`.

use crate::attention::{merge_heads, split_heads};
use crate::hf::{HfConfig, ModelError};
use crate::loss::causal_lm_loss;
use crate::nn::{self, Activation};
use wgraph::graph::{ops, Scope};
use wgraph::{DType, Dim, Graph, Tensor, Value};

/// The parts of `LlamaConfig` the forward pass uses.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    pub head_dim: usize,
    pub rms_norm_eps: f64,
    pub rope_theta: f64,
    pub rope_layout: RopeLayout,
    pub tie_word_embeddings: bool,
    pub attention_bias: bool,
    pub mlp_bias: bool,
    pub hidden_act: Activation,
    pub eos_token_ids: Vec<i64>,
    /// The context the model was trained for (`max_position_embeddings`,
    /// HF's default 2048); generation stops there.
    pub max_position_embeddings: usize,
}

/// How rotary embeddings pair up the features of a head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RopeLayout {
    /// HF's `rotate_half`: feature `i` rotates with `i + head_dim/2`. HF
    /// checkpoints expect this (their conversion script permutes q/k).
    #[default]
    HalfSplit,
    /// GPT-J / Meta's original layout (MLX's `rope_traditional`): features
    /// `2i` and `2i+1` rotate together. Right for checkpoints whose q/k
    /// rows were never permuted; wrong for HF ones, and a classic bug.
    Interleaved,
}

impl LlamaConfig {
    pub fn from_hf(cfg: &HfConfig) -> Result<LlamaConfig, ModelError> {
        let hidden = cfg.usize("hidden_size")?;
        let heads = cfg.usize("num_attention_heads")?;
        if heads == 0 {
            return Err(cfg.invalid("num_attention_heads must be positive"));
        }
        let kv = cfg.usize_or("num_key_value_heads", heads)?;
        if kv == 0 || !heads.is_multiple_of(kv) {
            return Err(cfg.invalid(format!("num_key_value_heads {kv} must divide num_attention_heads {heads}")));
        }
        let head_dim = cfg.usize_or("head_dim", hidden / heads)?;
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(cfg.invalid(format!("head_dim {head_dim} must be even: rotary embeddings turn feature pairs")));
        }
        let rope_theta = match cfg.json_f64(&["rope_parameters", "rope_theta"]) {
            Some(t) => t,
            None => cfg.f64_or("rope_theta", 10000.0)?,
        };
        let rope_type = cfg.json_str(&["rope_parameters", "rope_type"]).unwrap_or("default");
        if rope_type != "default" {
            return Err(cfg.invalid(format!("rope_type `{rope_type}` is not supported (only `default`)")));
        }
        Ok(LlamaConfig {
            vocab_size: cfg.usize("vocab_size")?,
            hidden_size: hidden,
            intermediate_size: cfg.usize("intermediate_size")?,
            num_hidden_layers: cfg.layers("num_hidden_layers")?,
            num_attention_heads: heads,
            num_key_value_heads: kv,
            head_dim,
            rms_norm_eps: cfg.f64_or("rms_norm_eps", 1e-6)?,
            rope_theta,
            // MLX-converted configs say `rope_traditional: true` for the
            // interleaved layout; HF configs never set it.
            rope_layout: if cfg.bool_or("rope_traditional", false)? {
                RopeLayout::Interleaved
            } else {
                RopeLayout::HalfSplit
            },
            tie_word_embeddings: cfg.bool_or("tie_word_embeddings", false)?,
            attention_bias: cfg.bool_or("attention_bias", false)?,
            mlp_bias: cfg.bool_or("mlp_bias", false)?,
            hidden_act: Activation::from_config(cfg, "hidden_act", "silu")?,
            eos_token_ids: cfg.int_list("eos_token_id"),
            max_position_embeddings: cfg.usize_or("max_position_embeddings", 2048)?,
        })
    }
}

/// Which graph to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LlamaGraph {
    /// HF's forward without a cache: inputs `input_ids` and
    /// `attention_mask` (`[batch, seq]`), output `logits`.
    Forward,
    /// `LlamaModel` (no head; checkpoint keys without `model.`): inputs as
    /// `Forward`, output `last_hidden_state` after the final norm.
    Base,
    /// One generation step with a KV cache: inputs `input_ids`,
    /// `position_ids` (`[batch, seq]`), `attention_mask` (`[batch, past +
    /// seq]`) and `past.{i}.key` / `past.{i}.value` (`[batch, kv_heads,
    /// past, head_dim]`); outputs `logits` and `present.{i}.key/value`.
    Decode,
    /// One generation step (batch 1) with the KV cache kept on the device:
    /// the cache is the weights `cache.{i}.key` / `cache.{i}.value`
    /// (`[capacity, kv_heads, head_dim]`, position-major so a step's rows
    /// are one block), read up to `past` and written back with the step's
    /// rows at `past` (compile with `write_back`; the rows are copied in
    /// place, not the cache). Inputs `input_ids`, `position_ids` and
    /// `attention_mask` (`[1, seq]`) and `past_attention_mask` (`[1,
    /// past]`, the cached positions' mask, which also tells `past`); output
    /// `next_token` (`[1, 1]`, the greedy choice after the last position),
    /// so a step reads back one id. `seq: Some(1)` is the decode program
    /// (matrix-vector kernels), `None` the prefill.
    Cached {
        /// A static step length, or `None` for any.
        seq: Option<usize>,
        /// Positions the cache holds.
        capacity: usize,
    },
}

/// Names of the cache weights of [`LlamaGraph::Cached`] for layer `i`.
pub fn cache_names(i: usize) -> [String; 2] {
    [format!("cache.{i}.key"), format!("cache.{i}.value")]
}

pub fn build(cfg: &LlamaConfig, kind: LlamaGraph) -> Result<Graph, ModelError> {
    build_graph(cfg, kind, false)
}

/// `LlamaForCausalLM.forward(labels=...)`: the [`LlamaGraph::Forward`]
/// graph with one more input `labels` (integer `[batch, seq]`, -100 =
/// ignored; HF shifts them inside) and one more output `loss` (f32 scalar,
/// see [`causal_lm_loss`]).
pub fn build_with_loss(cfg: &LlamaConfig) -> Result<Graph, ModelError> {
    build_graph(cfg, LlamaGraph::Forward, true)
}

fn build_graph(cfg: &LlamaConfig, kind: LlamaGraph, with_loss: bool) -> Result<Graph, ModelError> {
    let g = Graph::new(match kind {
        LlamaGraph::Base => "LlamaModel",
        LlamaGraph::Forward => "LlamaForCausalLM",
        LlamaGraph::Decode => "LlamaForCausalLM.decode",
        LlamaGraph::Cached { seq: Some(_), .. } => "LlamaForCausalLM.decode_step",
        LlamaGraph::Cached { seq: None, .. } => "LlamaForCausalLM.prefill",
    });
    let (batch, seq, past) = match kind {
        LlamaGraph::Cached { seq, .. } => {
            (Dim::new(1), seq.map_or_else(|| Dim::sym("seq"), Dim::new), Dim::sym("past"))
        }
        _ => (Dim::sym("batch"), Dim::sym("seq"), Dim::sym("past")),
    };
    // Rotary positions have no table to run out of (HF computes any
    // position), but an empty sequence has no last token to predict from.
    g.limit("seq", 1..=usize::MAX, "a sequence needs at least one token");
    let ids = g.input("input_ids", DType::I64, [batch.clone(), seq.clone()]);
    let (positions, total) = match kind {
        LlamaGraph::Forward | LlamaGraph::Base => {
            (ops::unsqueeze(&ops::range(&g, 0, 1, seq.clone(), DType::I64), 0), seq.clone())
        }
        LlamaGraph::Decode | LlamaGraph::Cached { .. } => {
            (g.input("position_ids", DType::I64, [batch.clone(), seq.clone()]), &past + &seq)
        }
    };
    let mask = match kind {
        LlamaGraph::Cached { .. } => {
            let cached = g.input("past_attention_mask", DType::I64, [batch.clone(), past.clone()]);
            let new = g.input("attention_mask", DType::I64, [batch.clone(), seq.clone()]);
            ops::concat(&[&cached, &new], 1)
        }
        _ => g.input("attention_mask", DType::I64, [batch.clone(), total.clone()]),
    };
    let kv_shape = |len: &Dim| [batch.clone(), cfg.num_key_value_heads.into(), len.clone(), cfg.head_dim.into()];
    let caches: Vec<Cache> = match kind {
        LlamaGraph::Forward | LlamaGraph::Base => Vec::new(),
        LlamaGraph::Decode => (0..cfg.num_hidden_layers)
            .map(|i| {
                Cache::Inputs(
                    g.input(format!("past.{i}.key"), DType::F32, kv_shape(&past)),
                    g.input(format!("past.{i}.value"), DType::F32, kv_shape(&past)),
                )
            })
            .collect(),
        LlamaGraph::Cached { capacity, .. } => (0..cfg.num_hidden_layers)
            .map(|i| {
                let shape = [capacity, cfg.num_key_value_heads, cfg.head_dim];
                let [k, v] = cache_names(i).map(|name| g.weight(name, DType::F32, shape));
                Cache::Device { key: k, value: v, past: past.clone(), capacity }
            })
            .collect(),
    };

    let root = Scope::new(&g, if kind == LlamaGraph::Base { "" } else { "model" });
    let embed = root.pp("embed_tokens");
    let table = embed.weight("weight", [cfg.vocab_size, cfg.hidden_size]);
    let mut x = embed.name(ops::gather(&table, &ids, 0));
    let (cos, sin) = rotary(&root.pp("rotary_emb"), cfg, &positions);
    // Query rows are the last `seq` of `total` positions; padding masks keys.
    let causal = ops::causal_mask(&g, seq.clone(), total);
    let keep = ops::ne(&mask, &ops::scalar(&g, 0.0, DType::I64));
    let allowed = ops::and(&ops::unsqueeze(&causal, 0), &ops::unsqueeze(&keep, 1));
    let allowed = ops::unsqueeze(&allowed, 1);

    let mut presents = Vec::new();
    for i in 0..cfg.num_hidden_layers {
        let l = root.pp(format!("layers.{i}"));
        let h = rms_norm(&l.pp("input_layernorm"), &x, cfg);
        let cache = caches.get(i);
        let (attn, k, v) = self_attention(&l.pp("self_attn"), cfg, &h, &cos, &sin, &allowed, cache);
        let [key_name, value_name] = match kind {
            LlamaGraph::Cached { .. } => cache_names(i),
            _ => [format!("present.{i}.key"), format!("present.{i}.value")],
        };
        presents.push((key_name, k));
        presents.push((value_name, v));
        x = &x + &attn;
        let h = rms_norm(&l.pp("post_attention_layernorm"), &x, cfg);
        let m = l.pp("mlp");
        let gate = nn::linear(&m.pp("gate_proj"), &h, cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias);
        let up = nn::linear(&m.pp("up_proj"), &h, cfg.hidden_size, cfg.intermediate_size, cfg.mlp_bias);
        let down = nn::linear(
            &m.pp("down_proj"),
            &(&m.pp("act_fn").name(cfg.hidden_act.apply(&gate)) * &up),
            cfg.intermediate_size,
            cfg.hidden_size,
            cfg.mlp_bias,
        );
        x = l.name(&x + &m.name(down));
    }
    let x = rms_norm(&root.pp("norm"), &x, cfg);
    // `model`'s own output (LlamaModel inside LlamaForCausalLM) is the normed state.
    let x = if root.path().is_empty() { x } else { root.name(x) };
    if kind == LlamaGraph::Base {
        g.output_named([("last_hidden_state", x)])?;
        return Ok(g);
    }
    let lm_head = if cfg.tie_word_embeddings {
        table
    } else {
        g.weight("lm_head.weight", DType::F32, [cfg.vocab_size, cfg.hidden_size])
    };
    if let LlamaGraph::Cached { .. } = kind {
        // Only the last position's logits decide the next token.
        let last = ops::slice(&x, 1, &seq - &Dim::new(1), seq.clone());
        let logits = ops::linear(&last, &lm_head, None).named("lm_head");
        let mut outputs = vec![("next_token".to_string(), ops::argmax(&logits, -1, false))];
        outputs.extend(presents);
        g.output_named(outputs)?;
        return Ok(g);
    }
    let logits = ops::linear(&x, &lm_head, None).named("lm_head");
    let mut outputs = vec![("logits".to_string(), logits.clone())];
    if kind == LlamaGraph::Decode {
        outputs.extend(presents);
    }
    if with_loss {
        let labels = g.input("labels", DType::I64, [Dim::sym("batch"), Dim::sym("seq")]);
        outputs.push(("loss".to_string(), causal_lm_loss(&logits.named("logits"), &labels)));
    }
    g.output_named(outputs)?;
    Ok(g)
}

/// `weight * x * rsqrt(mean(x^2) + eps)`, computed as HF does in f32.
fn rms_norm(s: &Scope, x: &Value, cfg: &LlamaConfig) -> Value {
    let w = s.weight("weight", [cfg.hidden_size]);
    s.name(ops::rms_norm(x, &w, cfg.rms_norm_eps))
}

/// HF's rotary tables for `positions` (`[batch, seq]`): `cos` and `sin` of
/// `positions * inv_freq`, each frequency used by the two features it
/// rotates (the table repeated twice for half-split, each entry twice for
/// interleaved), shaped `[batch, 1, seq, head_dim]` to broadcast over
/// heads. `cos` before the head axis is what HF's `rotary_emb` returns.
fn rotary(s: &Scope, cfg: &LlamaConfig, positions: &Value) -> (Value, Value) {
    let g = s.graph();
    let half = cfg.head_dim / 2;
    // inv_freq in f32 exactly as HF: 1 / base^(2i / dim).
    let base = cfg.rope_theta as f32;
    let inv: Vec<f32> = (0..half).map(|i| 1.0 / base.powf((2 * i) as f32 / cfg.head_dim as f32)).collect();
    let inv = ops::constant(g, Tensor::new([half], inv).unwrap_or_else(|_| Tensor::scalar(0f32)));
    let freqs = &ops::unsqueeze(&ops::cast(positions, DType::F32), -1) * &inv;
    let emb = match cfg.rope_layout {
        RopeLayout::HalfSplit => ops::concat(&[&freqs, &freqs], -1),
        RopeLayout::Interleaved => {
            let pairs = ops::unsqueeze(&freqs, -1);
            reshape_tail(&ops::concat(&[&pairs, &pairs], -1), 2, &[cfg.head_dim])
        }
    };
    let cos = s.name(ops::cos(&emb));
    (ops::unsqueeze(&cos, 1), ops::unsqueeze(&ops::sin(&emb), 1))
}

/// `x` with its last `replaced` dims reshaped into `tail`: `[..., 2n]` to
/// `[..., n, 2]` and back.
fn reshape_tail(x: &Value, replaced: usize, tail: &[usize]) -> Value {
    let shape = x.shape();
    let keep = shape.len().saturating_sub(replaced);
    let dims: Vec<Dim> = shape[..keep].iter().cloned().chain(tail.iter().map(|&d| Dim::new(d))).collect();
    ops::reshape(x, dims)
}

/// `x * cos + rotate(x) * sin`: half-split `rotate_half(x) = cat(-x2, x1)`,
/// or interleaved, each pair `(a, b)` becoming `(-b, a)`.
fn apply_rotary(x: &Value, cos: &Value, sin: &Value, cfg: &LlamaConfig) -> Value {
    let half = cfg.head_dim / 2;
    let rotated = match cfg.rope_layout {
        RopeLayout::HalfSplit => {
            let halves = ops::split(x, -1, &[half, half]);
            ops::concat(&[&ops::neg(&halves[1]), &halves[0]], -1)
        }
        RopeLayout::Interleaved => {
            let pairs = ops::split(&reshape_tail(x, 1, &[half, 2]), -1, &[1, 1]);
            reshape_tail(&ops::concat(&[&ops::neg(&pairs[1]), &pairs[0]], -1), 2, &[cfg.head_dim])
        }
    };
    &(x * cos) + &(&rotated * sin)
}

fn self_attention(
    s: &Scope,
    cfg: &LlamaConfig,
    x: &Value,
    cos: &Value,
    sin: &Value,
    allowed: &Value,
    cache: Option<&Cache>,
) -> (Value, Value, Value) {
    let (h, kvh, hd) = (cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim);
    let q = nn::linear(&s.pp("q_proj"), x, cfg.hidden_size, h * hd, cfg.attention_bias);
    let k = nn::linear(&s.pp("k_proj"), x, cfg.hidden_size, kvh * hd, cfg.attention_bias);
    let v = nn::linear(&s.pp("v_proj"), x, cfg.hidden_size, kvh * hd, cfg.attention_bias);
    let q = apply_rotary(&split_heads(&q, h, hd), cos, sin, cfg);
    let mut k = apply_rotary(&split_heads(&k, kvh, hd), cos, sin, cfg);
    let mut v = split_heads(&v, kvh, hd);
    let mut presents = None;
    match cache {
        None => {}
        Some(Cache::Inputs(pk, pv)) => {
            k = ops::concat(&[pk, &k], 2);
            v = ops::concat(&[pv, &v], 2);
        }
        Some(Cache::Device { key, value, past, capacity }) => {
            let (kc, kw) = append_rows(key, &k, past, *capacity);
            let (vc, vw) = append_rows(value, &v, past, *capacity);
            (k, v) = (kc, vc);
            presents = Some((kw, vw));
        }
    }
    let ctx = if kvh == h {
        attend(&q, &k, &v, allowed, hd)
    } else {
        // Grouped-query attention: query heads as `[kv_heads, n_rep]`, each
        // KV head broadcast over its group (a stride-0 view, where HF's
        // `repeat_kv` copies it `n_rep` times); the numbers are HF's.
        let (rep, d) = (h / kvh, |v: &Value, axis: isize| v.dim(axis).unwrap_or_else(|| Dim::new(1)));
        let grouped = |t: &Value| {
            let shape = [d(t, 0), Dim::new(kvh), Dim::new(rep), d(t, 2), Dim::new(hd)];
            ops::expand(&ops::unsqueeze(t, 2), shape)
        };
        let q5 = ops::reshape(&q, [d(&q, 0), Dim::new(kvh), Dim::new(rep), d(&q, 2), Dim::new(hd)]);
        let ctx = attend(&q5, &grouped(&k), &grouped(&v), &ops::unsqueeze(allowed, 1), hd);
        ops::reshape(&ctx, [d(&q, 0), Dim::new(h), d(&q, 2), Dim::new(hd)])
    };
    let merged = merge_heads(&ctx, h * hd);
    let out = s.name(nn::linear(&s.pp("o_proj"), &merged, h * hd, cfg.hidden_size, cfg.attention_bias));
    let (k, v) = presents.unwrap_or((k, v));
    (out, k, v)
}

/// `softmax(mask(q k^T / sqrt(head_dim))) v` over the last two axes (any
/// batch axes), masked positions at f32's lowest value as HF's eager path.
fn attend(q: &Value, k: &Value, v: &Value, allowed: &Value, hd: usize) -> Value {
    let scores = ops::matmul(q, &ops::transpose(k, -1, -2)) * (hd as f64).powf(-0.5);
    let lowest = ops::scalar(q.graph(), f32::MIN as f64, DType::F32);
    let probs = ops::softmax(&ops::select(allowed, &scores, &lowest), -1);
    ops::matmul(&probs, v)
}

/// Where a layer's past keys and values come from.
enum Cache {
    /// Graph inputs `[batch, kv_heads, past, head_dim]` ([`LlamaGraph::Decode`]).
    Inputs(Value, Value),
    /// Weights `[capacity, kv_heads, head_dim]` valid up to `past`
    /// ([`LlamaGraph::Cached`]).
    Device { key: Value, value: Value, past: Dim, capacity: usize },
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

#[cfg(test)]
mod tests {
    use super::*;
    use wgraph::{Interpreter, Weights};

    fn config(head_dim: usize, layout: RopeLayout) -> LlamaConfig {
        LlamaConfig {
            vocab_size: 1,
            hidden_size: head_dim,
            intermediate_size: 1,
            num_hidden_layers: 0,
            num_attention_heads: 1,
            num_key_value_heads: 1,
            head_dim,
            rms_norm_eps: 1e-6,
            rope_theta: 100.0,
            rope_layout: layout,
            tie_word_embeddings: true,
            attention_bias: false,
            mlp_bias: false,
            hidden_act: Activation::Silu,
            eos_token_ids: Vec::new(),
            max_position_embeddings: 2048,
        }
    }

    /// Rotates `x` (`[seq, head_dim]`, position = row) through the graph.
    fn rotate(x: &[f32], seq: usize, cfg: &LlamaConfig) -> Vec<f32> {
        let g = Graph::new("rope");
        let input = g.input("x", DType::F32, [1, 1, seq, cfg.head_dim]);
        let positions = ops::unsqueeze(&ops::range(&g, 0, 1, Dim::new(seq), DType::I64), 0);
        let (cos, sin) = rotary(&Scope::new(&g, "rotary_emb"), cfg, &positions);
        g.output([apply_rotary(&input, &cos, &sin, cfg)]).unwrap();
        let x = Tensor::new([1, 1, seq, cfg.head_dim], x.to_vec()).unwrap();
        let out = Interpreter::new().run(&g, &Weights::new(), [("x", x)]).unwrap();
        out.0[0].1.to_f32_vec()
    }

    /// Each feature pair `(i, j)` turned by `pos / theta^(2k / head_dim)`,
    /// written out directly.
    fn by_hand(x: &[f32], seq: usize, hd: usize, pair: impl Fn(usize) -> (usize, usize)) -> Vec<f32> {
        let mut out = x.to_vec();
        for p in 0..seq {
            for k in 0..hd / 2 {
                let angle = p as f64 / 100f64.powf(2.0 * k as f64 / hd as f64);
                let (i, j) = pair(k);
                let (a, b) = (x[p * hd + i] as f64, x[p * hd + j] as f64);
                out[p * hd + i] = (a * angle.cos() - b * angle.sin()) as f32;
                out[p * hd + j] = (a * angle.sin() + b * angle.cos()) as f32;
            }
        }
        out
    }

    #[test]
    fn both_rope_layouts_turn_the_right_feature_pairs() {
        let (seq, hd) = (3, 8);
        let x: Vec<f32> = (0..seq * hd).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
        type Pairing = fn(usize) -> (usize, usize);
        let cases: [(RopeLayout, Pairing); 2] =
            [(RopeLayout::HalfSplit, |k| (k, k + 4)), (RopeLayout::Interleaved, |k| (2 * k, 2 * k + 1))];
        for (layout, pair) in cases {
            let got = rotate(&x, seq, &config(hd, layout));
            let want = by_hand(&x, seq, hd, pair);
            for (g, w) in got.iter().zip(&want) {
                assert!((g - w).abs() < 1e-5, "{layout:?}: got {got:?}\nwant {want:?}");
            }
        }
    }
}
