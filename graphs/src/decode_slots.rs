//! Several conversations decoding on one device, each in its own slot: a
//! KV cache per slot, the model's weights uploaded once and read by every
//! slot's programs. Steps run one sequence at a time (a caller interleaves
//! slots step by step); batching several slots into one step would need a
//! batched cached graph with a per-row cache position, which the cached
//! LLaMA graph does not have.
//!
//! The cached graph names its cache weights `cache.{i}.key` / `.value`;
//! each slot's copy of the graph renames them `slot{s}.cache.{i}...`, so
//! that sharing weights by name shares the model and not the caches.

use crate::generate::{step, tensor_err, GenerateError};
use crate::llama::{self, LlamaConfig, LlamaGraph};
use wgraph::graph::{Ir, Op};
use wgraph::{CompileOptions, Device, Loader, Model, RuntimeError, Tensor, Weights};

/// Why a slot could not start or step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SlotError {
    #[error(transparent)]
    Generate(#[from] GenerateError),
    #[error("there is no slot {slot}: the decoder has {slots}")]
    NoSuchSlot { slot: usize, slots: usize },
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
        let shape = [capacity, cfg.num_key_value_heads, cfg.head_dim];
        for s in 0..slots.max(1) {
            for i in 0..cfg.num_hidden_layers {
                for name in llama::cache_names(i) {
                    let zeros = Tensor::zeros(wgraph::DType::F32, shape).map_err(tensor_err)?;
                    weights.insert(format!("{}{}", weights.prefix(), slot_name(s, &name)), zeros);
                }
            }
        }
        let options = CompileOptions { write_back: true, ..CompileOptions::default() };
        let decode_ir = llama::build(&cfg, LlamaGraph::Cached { seq: Some(1), capacity })?
            .ir()
            .map_err(wgraph::LoadError::from)?
            .clone();
        let prefill_ir = llama::build(&cfg, LlamaGraph::Cached { seq: None, capacity })?
            .ir()
            .map_err(wgraph::LoadError::from)?
            .clone();
        let mut built: Vec<Slot> = Vec::new();
        for s in 0..slots.max(1) {
            let loader = Loader::new(device).with_options(options.clone());
            // Every slot reads the first slot's weight buffers; the renamed caches are its own.
            let loader = match built.first() {
                Some(first) => loader.sharing_weights_with(&first.decode),
                None => loader,
            };
            let decode = loader.load_ir(&for_slot(&decode_ir, s), &weights)?;
            let prefill = Loader::new(device)
                .with_options(options.clone())
                .sharing_weights_with(&decode)
                .load_ir(&for_slot(&prefill_ir, s), &weights)?;
            built.push(Slot { prefill, decode });
        }
        Ok(SlotDecoder { cfg, capacity, slots: built })
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

    fn slot(&self, slot: usize) -> Result<&Slot, SlotError> {
        self.slots.get(slot).ok_or(SlotError::NoSuchSlot { slot, slots: self.slots.len() })
    }
}

/// `cache.{i}.key` of slot `s`.
fn slot_name(s: usize, cache_name: &str) -> String {
    format!("slot{s}.{cache_name}")
}

/// The graph with its cache weights (and the outputs written back into
/// them) renamed for slot `s`.
fn for_slot(ir: &Ir, s: usize) -> Ir {
    let mut ir = ir.clone();
    let is_cache = |name: &str| name.starts_with("cache.");
    for id in ir.graph.node_indices().collect::<Vec<_>>() {
        if let Op::Weight { name, .. } = &mut ir.graph[id].op {
            if is_cache(name) {
                *name = slot_name(s, name);
            }
        }
    }
    for (name, _) in &mut ir.outputs {
        if is_cache(name) {
            *name = slot_name(s, name);
        }
    }
    ir
}
