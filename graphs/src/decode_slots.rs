//! Several conversations decoding on one device, each in its own slot: a
//! KV cache per slot, the model's weights uploaded once and read by every
//! slot's programs. A prompt runs through its slot's prefill; the decode
//! steps of every busy slot run as one program ([`LlamaGraph::Slots`]),
//! whose products read each weight once for all of them.
//!
//! The cached graph names its cache weights `cache.{i}.key` / `.value`;
//! each slot's copy of the graph renames them `slot{s}.cache.{i}...`
//! ([`llama::slot_cache_names`], the names the batched step reads), so that
//! sharing weights by name shares the model and not the caches.

use crate::generate::{step, tensor_err, GenerateError};
use crate::llama::{self, LlamaConfig, LlamaGraph};
use wgraph::graph::{Ir, Op};
use wgraph::runtime::KernelTime;
use wgraph::{CompileOptions, Device, Loader, Model, RuntimeError, Tensor, Weights};

/// Why a slot could not start or step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlotError {
    #[error(transparent)]
    Generate(#[from] GenerateError),
    #[error("there is no slot {slot}: the decoder has {slots}")]
    NoSuchSlot { slot: usize, slots: usize },
    #[error("slot {slot} is stepped twice in one batched step")]
    SlotTwice { slot: usize },
}

/// One busy slot's share of a batched step: feed `token` at position
/// `past` (the positions the slot's cache holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotStep {
    pub slot: usize,
    pub token: i64,
    pub past: usize,
}

impl From<wgraph::LoadError> for SlotError {
    fn from(e: wgraph::LoadError) -> SlotError {
        SlotError::Generate(e.into())
    }
}

impl From<RuntimeError> for SlotError {
    fn from(e: RuntimeError) -> SlotError {
        SlotError::Generate(e.into())
    }
}

impl From<crate::hf::ModelError> for SlotError {
    fn from(e: crate::hf::ModelError) -> SlotError {
        SlotError::Generate(e.into())
    }
}

/// One slot's two programs: prefill (any length) and decode (one token).
struct Slot {
    prefill: Model,
    decode: Model,
}

/// `slots` KV caches over one copy of a LLaMA-style decoder's weights.
pub struct SlotDecoder {
    cfg: LlamaConfig,
    capacity: usize,
    slots: Vec<Slot>,
    /// The decode step of every slot at once (with two slots or more).
    together: Option<Model>,
}

impl SlotDecoder {
    /// Compiles `slots` (at least 1) pairs of programs, each slot with a
    /// cache of `capacity` positions (at most the model's context).
    pub fn new(
        cfg: LlamaConfig,
        mut weights: Weights,
        device: &Device,
        slots: usize,
        capacity: usize,
    ) -> Result<SlotDecoder, SlotError> {
        let capacity = capacity.clamp(1, cfg.max_position_embeddings.max(1));
        let slots = slots.max(1);
        let shape = [capacity, cfg.num_key_value_heads, cfg.head_dim];
        for s in 0..slots {
            for i in 0..cfg.num_hidden_layers {
                for name in llama::slot_cache_names(s, i) {
                    let zeros = Tensor::zeros(wgraph::DType::F32, shape).map_err(tensor_err)?;
                    weights.insert(format!("{}{name}", weights.prefix()), zeros);
                }
            }
        }
        let options = CompileOptions { write_back: true, ..CompileOptions::default() };
        let loader = || Loader::new(device).with_options(options.clone());
        // The batched step reads every weight and every slot's cache: the
        // slots' own programs read its buffers.
        let together = match slots {
            1 => None,
            _ => Some(loader().load(&llama::build(&cfg, LlamaGraph::Slots { slots, capacity })?, &weights)?),
        };
        let ir = |kind| -> Result<Ir, SlotError> {
            Ok(llama::build(&cfg, kind)?.ir().map_err(wgraph::LoadError::from)?.clone())
        };
        let decode_ir = ir(LlamaGraph::Cached { seq: Some(1), capacity })?;
        let prefill_ir = ir(LlamaGraph::Cached { seq: None, capacity })?;
        let mut built: Vec<Slot> = Vec::new();
        for s in 0..slots {
            // Every slot reads the first program's weight buffers; the renamed caches are its own.
            let first = together.as_ref().or(built.first().map(|slot| &slot.decode));
            let decode = match first {
                Some(first) => loader().sharing_weights_with(first),
                None => loader(),
            }
            .load_ir(&for_slot(&decode_ir, s), &weights)?;
            let prefill = loader().sharing_weights_with(&decode).load_ir(&for_slot(&prefill_ir, s), &weights)?;
            built.push(Slot { prefill, decode });
        }
        Ok(SlotDecoder { cfg, capacity, slots: built, together })
    }

    /// How many sequences can be in flight.
    pub fn slots(&self) -> usize {
        self.slots.len()
    }

    /// Positions one slot holds, prompt and generated tokens together.
    pub fn context(&self) -> usize {
        self.capacity
    }

    /// The config's EOS token ids.
    pub fn eos_token_ids(&self) -> &[i64] {
        &self.cfg.eos_token_ids
    }

    /// Runs `prompt` through `slot`'s prefill, replacing what the slot
    /// held, and returns the greedy next token.
    pub fn start(&self, slot: usize, prompt: &[i64]) -> Result<i64, SlotError> {
        if prompt.is_empty() {
            return Err(GenerateError::EmptyPrompt.into());
        }
        if prompt.len() > self.capacity {
            return Err(GenerateError::PromptTooLong { prompt: prompt.len(), context: self.capacity }.into());
        }
        let s = self.slot(slot)?;
        let model = if prompt.len() == 1 { &s.decode } else { &s.prefill };
        Ok(step(model, prompt, 0)?)
    }

    /// Feeds `token` at position `past` (the tokens `slot` already holds)
    /// and returns the greedy next token. `past` must be below
    /// [`SlotDecoder::context`].
    pub fn step(&self, slot: usize, token: i64, past: usize) -> Result<i64, SlotError> {
        if past >= self.capacity {
            return Err(GenerateError::PromptTooLong { prompt: past + 1, context: self.capacity }.into());
        }
        Ok(step(&self.slot(slot)?.decode, &[token], past)?)
    }

    /// One decode step for each busy slot in `busy` (each slot at most
    /// once), returning their greedy next tokens in `busy`'s order: one
    /// program for all of them when there are several. Slots not in
    /// `busy` are free: the step may overwrite their cache's first
    /// position (a [`SlotDecoder::start`] writes it again).
    pub fn step_busy(&self, busy: &[SlotStep]) -> Result<Vec<i64>, SlotError> {
        for (i, s) in busy.iter().enumerate() {
            self.slot(s.slot)?;
            if s.past >= self.capacity {
                return Err(GenerateError::PromptTooLong { prompt: s.past + 1, context: self.capacity }.into());
            }
            if busy[..i].iter().any(|t| t.slot == s.slot) {
                return Err(SlotError::SlotTwice { slot: s.slot });
            }
        }
        let together = match &self.together {
            Some(model) if busy.len() > 1 => model,
            _ => return busy.iter().map(|s| self.step(s.slot, s.token, s.past)).collect(),
        };
        let out = together.run(slots_feed(self.slots.len(), busy)?)?;
        let next = out.get("next_token").ok_or_else(|| GenerateError::MissingOutput("next_token".into()))?;
        let next = next.to_i64_vec();
        busy.iter()
            .map(|s| next.get(s.slot).copied().ok_or_else(|| GenerateError::MissingOutput("next_token".into()).into()))
            .collect()
    }

    /// Each kernel's time in one step of every slot at once (each slot
    /// given `token` at `past`, its cache written there as a step writes
    /// it), dispatched alone: where a batched step's time goes
    /// (`examples/slot_steps.rs --profile`). `None` with one slot.
    pub fn profile_all_busy(&self, token: i64, past: usize) -> Result<Option<Vec<KernelTime>>, SlotError> {
        let Some(together) = &self.together else { return Ok(None) };
        let busy: Vec<SlotStep> = (0..self.slots.len()).map(|slot| SlotStep { slot, token, past }).collect();
        Ok(Some(together.profile(slots_feed(self.slots.len(), &busy)?)?))
    }

    fn slot(&self, slot: usize) -> Result<&Slot, SlotError> {
        self.slots.get(slot).ok_or(SlotError::NoSuchSlot { slot, slots: self.slots.len() })
    }
}

/// The batched step's inputs: row `b` is slot `b`'s token, a free slot's
/// a placeholder at position 0.
fn slots_feed(slots: usize, busy: &[SlotStep]) -> Result<Vec<(String, Tensor)>, GenerateError> {
    let mut tokens = vec![0i64; slots];
    let mut positions = vec![0i64; slots];
    for s in busy {
        tokens[s.slot] = s.token;
        positions[s.slot] = s.past as i64;
    }
    let tensor = |shape: [usize; 2], v: Vec<i64>| Tensor::new(shape, v).map_err(tensor_err);
    let mut feed = vec![
        ("input_ids".to_string(), tensor([slots, 1], tokens)?),
        ("position_ids".to_string(), tensor([slots, 1], positions.clone())?),
        ("attention_mask".to_string(), tensor([slots, 1], vec![1; slots])?),
    ];
    for (b, &past) in positions.iter().enumerate() {
        let past = past as usize;
        feed.push((format!("past_attention_mask.{b}"), tensor([1, past], vec![1; past])?));
    }
    Ok(feed)
}

/// The graph with its cache weights (and the outputs written back into
/// them) renamed for slot `s`.
fn for_slot(ir: &Ir, s: usize) -> Ir {
    let mut ir = ir.clone();
    let is_cache = |name: &str| name.starts_with("cache.");
    let rename = |name: &mut String| {
        if is_cache(name) {
            *name = format!("slot{s}.{name}");
        }
    };
    for id in ir.graph.node_indices().collect::<Vec<_>>() {
        if let Op::Weight { name, .. } = &mut ir.graph[id].op {
            rename(name);
        }
    }
    for (name, _) in &mut ir.outputs {
        rename(name);
    }
    ir
}
