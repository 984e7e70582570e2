//! The inputs and caches of the programs that step every conversation slot
//! at once: [`LlamaGraph::Slots`] (one token per slot, slot `b` in batch
//! row `b`) and [`LlamaGraph::PackedSlots`] (each slot's tokens one after
//! another in one sequence, slot `b`'s `len{b}` rows starting where slot
//! `b - 1`'s end). Either way each slot attends to its own device cache
//! and the products around the attention see every slot's rows at once.

use super::attention::{allowed_keys, slot_cache_names, Cache, DeviceCache, SlotCache};
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

/// Each layer's caches for a step over `slots` slots (`kind` is `Slots` or
/// `PackedSlots`), with the mask inputs that tell each slot's length.
pub(super) fn slot_caches(g: &Graph, cfg: &LlamaConfig, kind: LlamaGraph, slots: usize, capacity: usize) -> Vec<Cache> {
    let packed = matches!(kind, LlamaGraph::PackedSlots { .. });
    let one_each = (!packed).then(|| g.input("attention_mask", DType::I64, [slots, 1]));
    let mut start = Dim::new(0);
    // Per slot: its cached length, what its rows may attend to, and where its rows are.
    let slot_rows: Vec<(Dim, Value, usize, Dim, Dim)> = (0..slots)
        .map(|b| {
            let past = Dim::sym(format!("past{b}"));
            let cached = g.input(format!("past_attention_mask.{b}"), DType::I64, [Dim::new(1), past.clone()]);
            let (new, len, rows) = match &one_each {
                Some(mask) => (ops::slice(mask, 0, b, b + 1), Dim::new(1), (0, Dim::new(b), Dim::new(b + 1))),
                None => {
                    let len = slot_len(b);
                    let end = &start + &len;
                    // The rows axis of `[1, heads, seq, head_dim]`.
                    let rows = (2, start.clone(), end.clone());
                    start = end;
                    (g.input(format!("attention_mask.{b}"), DType::I64, [Dim::new(1), len.clone()]), len, rows)
                }
            };
            let allowed = allowed_keys(&ops::concat(&[&cached, &new], 1), &len, &past + &len);
            (past, allowed, rows.0, rows.1, rows.2)
        })
        .collect();
    let cache_shape = [capacity, cfg.num_key_value_heads, cfg.head_dim];
    (0..cfg.num_hidden_layers)
        .map(|i| {
            Cache::Slots(
                slot_rows
                    .iter()
                    .enumerate()
                    .map(|(b, (past, allowed, axis, start, end))| {
                        let [key, value] = slot_cache_names(b, i).map(|name| g.weight(name, DType::F32, cache_shape));
                        let (past, allowed) = (past.clone(), allowed.clone());
                        SlotCache {
                            cache: DeviceCache { key, value, past, capacity, allowed },
                            axis: *axis,
                            start: start.clone(),
                            end: end.clone(),
                        }
                    })
                    .collect(),
            )
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
