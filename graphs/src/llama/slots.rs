//! The inputs and caches of the programs that step every conversation slot
//! at once: [`LlamaGraph::Slots`] (one token per slot, slot `b` in batch
//! row `b`) and [`LlamaGraph::PackedSlots`] (each slot's tokens one after
//! another in one sequence, slot `b`'s `len{b}` rows starting where slot
//! `b - 1`'s end). Every slot's positions live in one pair of cache weights
//! per layer (slot `b`'s region from row `b * capacity`), which the
//! per-slot programs ([`LlamaGraph::OneSlot`]) share.

use super::attention::{allowed_keys, cache_names, Cache, SlotCaches, SlotLayout, SlotRows};
use super::{LlamaConfig, LlamaGraph};
use wgraph::graph::ops;
use wgraph::{DType, Dim, Graph, Value};

/// The tokens slot `b` brings to a packed step.
fn slot_len(b: usize) -> Dim {
    Dim::sym(format!("len{b}"))
}

/// A packed step's length: every slot's tokens.
pub(super) fn packed_len(slots: usize) -> Dim {
    (0..slots).map(slot_len).reduce(|sum, len| &sum + &len).unwrap_or_else(|| Dim::new(0))
}

/// Layer `i`'s cache weights when `slots` slots of `capacity` positions
/// share them: `[slots * capacity, kv_heads, head_dim]`.
pub(super) fn shared_caches(g: &Graph, cfg: &LlamaConfig, i: usize, slots: usize, capacity: usize) -> [Value; 2] {
    let shape = [slots * capacity, cfg.num_key_value_heads, cfg.head_dim];
    cache_names(i).map(|name| g.weight(name, DType::F32, shape))
}

/// Each layer's caches for a step over `slots` slots (`kind` is `Slots` or
/// `PackedSlots`), with the mask inputs that tell each slot's length.
pub(super) fn slot_caches(g: &Graph, cfg: &LlamaConfig, kind: LlamaGraph, slots: usize, capacity: usize) -> Vec<Cache> {
    let packed = matches!(kind, LlamaGraph::PackedSlots { .. });
    let pasts: Vec<Dim> = (0..slots).map(|b| Dim::sym(format!("past{b}"))).collect();
    let region = "a slot's region of the cache holds `capacity` positions";
    for b in 0..slots {
        g.limit(&format!("past{b}"), 0..=capacity.saturating_sub(1), region);
        if packed {
            g.limit(&format!("len{b}"), 1..=capacity, region);
        }
    }
    let cached: Vec<Value> = pasts
        .iter()
        .enumerate()
        .map(|(b, past)| g.input(format!("past_attention_mask.{b}"), DType::I64, [Dim::new(1), past.clone()]))
        .collect();
    let mut start = Dim::new(0);
    let mut rows = Vec::with_capacity(slots);
    let mut allowed = Vec::with_capacity(slots);
    for (b, past) in pasts.iter().enumerate() {
        let (first, end) = if packed {
            let len = slot_len(b);
            let end = &start + &len;
            let new = g.input(format!("attention_mask.{b}"), DType::I64, [Dim::new(1), len.clone()]);
            allowed.push(allowed_keys(&ops::concat(&[&cached[b], &new], 1), &len, past + &len));
            (std::mem::replace(&mut start, end.clone()), end)
        } else {
            (Dim::new(b), Dim::new(b + 1))
        };
        rows.push((past.clone(), first, end));
    }
    let layout = match packed {
        true => SlotLayout::Packed { allowed },
        false => {
            // What each slot's token attends to among its region's first `keys` positions.
            let keys = Dim::sym("keys");
            g.limit("keys", 1..=capacity, "a slot attends to at most its cache's positions");
            let mask = g.input("attention_mask", DType::I64, [Dim::new(slots), keys.clone()]);
            let attend = ops::ne(&mask, &ops::scalar(g, 0.0, DType::I64));
            SlotLayout::OneEach { keys, allowed: ops::unsqueeze(&ops::unsqueeze(&attend, 1), 1) }
        }
    };
    (0..cfg.num_hidden_layers)
        .map(|i| {
            let [key, value] = shared_caches(g, cfg, i, slots, capacity);
            let slots = rows
                .iter()
                .map(|(past, start, end)| SlotRows { past: past.clone(), start: start.clone(), end: end.clone() })
                .collect();
            Cache::Slots(SlotCaches { key, value, capacity, slots, layout: layout.clone() })
        })
        .collect()
}

/// The final hidden states (`[batch, seq, hidden]`) at each slot's last
/// token, `[slots, 1, hidden]`: in a packed step the input `last_positions`
/// (`[slots, 1]`, each slot's last row), else each row's last position.
pub(super) fn last_rows(x: &Value, kind: LlamaGraph, seq: &Dim, hidden: usize) -> Value {
    match kind {
        LlamaGraph::PackedSlots { slots, .. } => {
            let at = x.graph().input("last_positions", DType::I64, [slots, 1]);
            ops::gather(&ops::reshape(x, [seq.clone(), Dim::new(hidden)]), &at, 0)
        }
        _ => ops::slice(x, 1, seq - &Dim::new(1), seq.clone()),
    }
}
