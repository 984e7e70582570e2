//! LLaMA-style decoders (`model_type: llama`; minimind-style models follow
//! the same recipe), mirroring HF's `modeling_llama.py`: RMSNorm, rotary
//! embeddings (HF's half-split layout unless the config says otherwise)
//! with `rope_theta` from the config, grouped-query attention, SiLU-gated
//! MLP, causal mask, tied or untied `lm_head`.

use crate::hf::{HfConfig, ModelError};
mod attention;
mod slots;

use crate::loss::causal_lm_loss;
use crate::nn::{self, Activation};
pub use attention::cache_names;
use attention::{allowed_keys, self_attention, Cache, DeviceCache};
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
    /// [`LlamaGraph::Cached`] for slot `slot` of `slots` conversation
    /// slots sharing their caches: `cache.{i}.key` / `.value` have
    /// `slots * capacity` rows (`[rows, kv_heads, head_dim]`), slot `b`'s
    /// positions from row `b * capacity`; the step reads and writes its
    /// slot's region only (`past` below and `seq` at most `capacity`, each
    /// checked when inputs bind; `past + seq` at most `capacity` is the
    /// caller's to keep, as `SlotDecoder` does).
    /// Inputs and output as `Cached`.
    OneSlot {
        /// The slot stepped.
        slot: usize,
        /// Slots sharing the caches.
        slots: usize,
        /// A static step length, or `None` for any.
        seq: Option<usize>,
        /// Positions each slot's region holds.
        capacity: usize,
    },
    /// One decode step for `slots` conversations at once, sharing the
    /// caches of [`LlamaGraph::OneSlot`], each at its own length: row `b`
    /// of `input_ids` and `position_ids` (`[slots, 1]`) is slot `b`'s
    /// token, written into its region at `past_b`, the length of
    /// `past_attention_mask.{b}` (`[1, past_b]`); row `b` of
    /// `attention_mask` (`[slots, keys]`, `keys` at most `capacity`) says
    /// which of its region's first `keys` positions, the new one
    /// included, the token attends to (nonzero = attend). The products
    /// read each weight once for every slot and one attention per layer
    /// serves every slot. Output `next_token` (`[slots, 1]`); compile with
    /// `write_back`.
    Slots {
        /// Conversations per step.
        slots: usize,
        /// Positions each slot's cache holds.
        capacity: usize,
    },
    /// [`LlamaGraph::Slots`] with any number of tokens per slot, packed one
    /// slot after another in one sequence (`[1, len0 + len1 + ...]`, no
    /// padding): prompts prefilled beside busy slots' single tokens, each
    /// weight read once for all. Inputs `input_ids` and `position_ids`
    /// (`[1, sum of len_b]`), `attention_mask.{b}` (`[1, len_b]`, slot
    /// `b`'s tokens; a free slot brings one placeholder) and
    /// `past_attention_mask.{b}` (`[1, past_b]`), and `last_positions`
    /// (`[slots, 1]`: where each slot's last token is in the sequence).
    /// Each slot's rows are written into its cache at `past_b`; output
    /// `next_token` (`[slots, 1]`).
    PackedSlots {
        /// Conversations per step.
        slots: usize,
        /// Positions each slot's cache holds.
        capacity: usize,
    },
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
        LlamaGraph::OneSlot { seq: Some(_), .. } => "LlamaForCausalLM.slot_decode_step",
        LlamaGraph::OneSlot { seq: None, .. } => "LlamaForCausalLM.slot_prefill",
        LlamaGraph::Slots { .. } => "LlamaForCausalLM.decode_slots",
        LlamaGraph::PackedSlots { .. } => "LlamaForCausalLM.packed_slots",
    });
    let (batch, seq, past) = match kind {
        LlamaGraph::Cached { seq, .. } | LlamaGraph::OneSlot { seq, .. } => {
            (Dim::new(1), seq.map_or_else(|| Dim::sym("seq"), Dim::new), Dim::sym("past"))
        }
        LlamaGraph::Slots { slots, .. } => (Dim::new(slots), Dim::new(1), Dim::sym("past")),
        LlamaGraph::PackedSlots { slots, .. } => (Dim::new(1), slots::packed_len(slots), Dim::sym("past")),
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
        _ => (g.input("position_ids", DType::I64, [batch.clone(), seq.clone()]), &past + &seq),
    };
    let new_mask = |len: Dim| g.input("attention_mask", DType::I64, [batch.clone(), len]);
    let kv_shape = |len: &Dim| [batch.clone(), cfg.num_key_value_heads.into(), len.clone(), cfg.head_dim.into()];
    let layers = 0..cfg.num_hidden_layers;
    let caches: Vec<Cache> = match kind {
        LlamaGraph::Forward | LlamaGraph::Base => {
            let allowed = allowed_keys(&new_mask(total.clone()), &seq, total);
            layers.map(|_| Cache::Fresh(allowed.clone())).collect()
        }
        LlamaGraph::Decode => {
            let allowed = allowed_keys(&new_mask(total.clone()), &seq, total);
            layers
                .map(|i| Cache::Inputs {
                    key: g.input(format!("past.{i}.key"), DType::F32, kv_shape(&past)),
                    value: g.input(format!("past.{i}.value"), DType::F32, kv_shape(&past)),
                    allowed: allowed.clone(),
                })
                .collect()
        }
        LlamaGraph::Cached { capacity, .. } | LlamaGraph::OneSlot { capacity, .. } => {
            let (slot, slots) = match kind {
                LlamaGraph::OneSlot { slot, slots, .. } => (slot, slots),
                _ => (0, 1),
            };
            // A slot's positions stay in its region, not the next slot's.
            let region = "a slot's region of the cache holds `capacity` positions";
            if slots > 1 {
                g.limit("past", 0..=capacity.saturating_sub(1), region);
                g.limit("seq", 1..=capacity, region);
            }
            let cached = g.input("past_attention_mask", DType::I64, [batch.clone(), past.clone()]);
            let allowed = allowed_keys(&ops::concat(&[&cached, &new_mask(seq.clone())], 1), &seq, total);
            layers
                .map(|i| {
                    let [key, value] = slots::shared_caches(&g, cfg, i, slots, capacity);
                    let (past, base, allowed) = (past.clone(), slot * capacity, allowed.clone());
                    Cache::Device(DeviceCache { key, value, past, base, allowed })
                })
                .collect()
        }
        LlamaGraph::Slots { slots, capacity } | LlamaGraph::PackedSlots { slots, capacity } => {
            slots::slot_caches(&g, cfg, kind, slots, capacity)
        }
    };

    let root = Scope::new(&g, if kind == LlamaGraph::Base { "" } else { "model" });
    let embed = root.pp("embed_tokens");
    let table = embed.weight("weight", [cfg.vocab_size, cfg.hidden_size]);
    let mut x = embed.name(ops::gather(&table, &ids, 0));
    let (cos, sin) = rotary(&root.pp("rotary_emb"), cfg, &positions);

    let mut presents = Vec::new();
    for (i, cache) in caches.iter().enumerate() {
        let l = root.pp(format!("layers.{i}"));
        let h = rms_norm(&l.pp("input_layernorm"), &x, cfg);
        let (attn, written) = self_attention(&l.pp("self_attn"), cfg, &h, &cos, &sin, cache);
        let names: Vec<String> = match kind {
            LlamaGraph::Cached { .. }
            | LlamaGraph::OneSlot { .. }
            | LlamaGraph::Slots { .. }
            | LlamaGraph::PackedSlots { .. } => cache_names(i).to_vec(),
            _ => vec![format!("present.{i}.key"), format!("present.{i}.value")],
        };
        presents.extend(names.into_iter().zip(written));
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
    if let LlamaGraph::Cached { .. }
    | LlamaGraph::OneSlot { .. }
    | LlamaGraph::Slots { .. }
    | LlamaGraph::PackedSlots { .. } = kind
    {
        // Only the last position's logits decide the next token.
        let last = slots::last_rows(&x, kind, &seq, cfg.hidden_size);
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
/// interleaved), shaped `[batch, seq, 1, head_dim]` to broadcast over
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
    (ops::unsqueeze(&cos, 2), ops::unsqueeze(&ops::sin(&emb), 2))
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
pub(crate) fn apply_rotary(x: &Value, cos: &Value, sin: &Value, cfg: &LlamaConfig) -> Value {
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
        let input = g.input("x", DType::F32, [1, seq, 1, cfg.head_dim]);
        let positions = ops::unsqueeze(&ops::range(&g, 0, 1, Dim::new(seq), DType::I64), 0);
        let (cos, sin) = rotary(&Scope::new(&g, "rotary_emb"), cfg, &positions);
        g.output([apply_rotary(&input, &cos, &sin, cfg)]).unwrap();
        let x = Tensor::new([1, seq, 1, cfg.head_dim], x.to_vec()).unwrap();
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
