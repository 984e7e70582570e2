//! Several conversations decoding on one device, each in its own slot: a
//! KV cache per slot, the model's weights uploaded once and read by every
//! slot's programs. The decode steps of every busy slot run as one program
//! ([`LlamaGraph::Slots`] with one token each), whose products read each
//! weight once for all of them. New prompts are prefilled either in their
//! slot's own program or, when several start together, in one program over
//! every slot with each slot's tokens packed one after another (the busy
//! slots' tokens among them, [`LlamaGraph::PackedSlots`]):
//! [`SlotDecoder::advance`] picks by what each has cost so far.
//!
//! Every slot's positions live in one pair of cache weights per layer
//! (`cache.{i}.key` / `.value`, slot `s`'s region from row `s *
//! capacity`), so that the batched step attends for every slot in one
//! kernel per layer; each slot's own programs ([`LlamaGraph::OneSlot`])
//! read and write its region only.

mod feed;
mod round_cost;

use crate::generate::{step, tensor_err, GenerateError};
use crate::llama::{self, LlamaConfig, LlamaGraph};
use round_cost::{Round, RoundCosts, Way};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;
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
    #[error(
        "the KV cache of {slots} slots x {capacity} positions needs {bytes} bytes per layer's keys, over this \
         adapter's max_storage_buffer_binding_size of {limit} bytes\n  hint: fewer slots (`--parallel`) or a \
         shorter context (`--ctx-size`): at most {fits} slots of {capacity} positions fit"
    )]
    CacheTooLarge { slots: usize, capacity: usize, bytes: u64, limit: u64, fits: u64 },
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

/// Rows a packed round may hold beyond one full-context prefill's: the
/// prompt tokens llama.cpp's server batches by default (`n_batch`).
const PACKED_ROWS: usize = 2048;

/// One slot's input to a round: `tokens` fed after the `past` positions
/// its cache holds (a prompt at 0, a prompt resuming after rows a
/// previous conversation left there (see [`SlotDecoder::keep_rows`]), or
/// a busy slot's newest token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlotInput<'a> {
    pub slot: usize,
    pub tokens: &'a [i64],
    pub past: usize,
}

/// One slot's two programs: prefill (any length) and decode (one token).
struct Slot {
    prefill: Model,
    decode: Model,
}

/// The programs over every slot at once (with two slots or more).
struct Together {
    /// One token per slot.
    decode: Model,
    /// Any number of tokens per slot, packed.
    packed: Model,
}

/// `slots` KV caches over one copy of a LLaMA-style decoder's weights.
pub struct SlotDecoder {
    cfg: LlamaConfig,
    capacity: usize,
    slots: Vec<Slot>,
    together: Option<Together>,
    costs: Mutex<RoundCosts>,
    /// Rounds run as one packed program (warm-up included).
    packed_rounds: AtomicU64,
    /// Each slot's rows kept while it is free (see [`SlotDecoder::keep_rows`]).
    kept: Vec<AtomicUsize>,
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
        // Every slot's positions are one buffer per layer's keys (and values).
        let region = (capacity * cfg.num_key_value_heads * cfg.head_dim * 4) as u64;
        let limit = device.target().max_storage_buffer_binding_size;
        if region * slots as u64 > limit {
            let bytes = region * slots as u64;
            return Err(SlotError::CacheTooLarge { slots, capacity, bytes, limit, fits: limit / region.max(1) });
        }
        let shape = [slots * capacity, cfg.num_key_value_heads, cfg.head_dim];
        for i in 0..cfg.num_hidden_layers {
            for name in llama::cache_names(i) {
                let zeros = Tensor::zeros(wgraph::DType::F32, shape).map_err(tensor_err)?;
                weights.insert(format!("{}{name}", weights.prefix()), zeros);
            }
        }
        let options = CompileOptions { write_back: true, ..CompileOptions::default() };
        let loader = || Loader::new(device).with_options(options.clone());
        // The batched programs read every weight and every slot's cache:
        // the other programs read their buffers.
        let together = match slots {
            1 => None,
            _ => {
                let decode = loader().load(&llama::build(&cfg, LlamaGraph::Slots { slots, capacity })?, &weights)?;
                let packed = llama::build(&cfg, LlamaGraph::PackedSlots { slots, capacity })?;
                let packed = loader().sharing_weights_with(&decode).load(&packed, &weights)?;
                Some(Together { decode, packed })
            }
        };
        let mut built: Vec<Slot> = Vec::new();
        for slot in 0..slots {
            // Every program reads the first one's weight buffers, the caches among them.
            let first = together.as_ref().map(|t| &t.decode).or(built.first().map(|slot| &slot.decode));
            let graph = |seq| llama::build(&cfg, LlamaGraph::OneSlot { slot, slots, seq, capacity });
            let decode = match first {
                Some(first) => loader().sharing_weights_with(first),
                None => loader(),
            }
            .load(&graph(Some(1))?, &weights)?;
            let prefill = loader().sharing_weights_with(&decode).load(&graph(None)?, &weights)?;
            built.push(Slot { prefill, decode });
        }
        Ok(SlotDecoder {
            cfg,
            capacity,
            slots: built,
            together,
            costs: Mutex::default(),
            packed_rounds: AtomicU64::new(0),
            kept: (0..slots).map(|_| AtomicUsize::new(0)).collect(),
        })
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

    /// Bytes of activation memory every program of the decoder keeps
    /// between runs (see [`Model::held_activation_bytes`]): what its
    /// memory grows by beyond the weights and caches, as rounds of new
    /// sizes run.
    pub fn held_activation_bytes(&self) -> u64 {
        let slots = self.slots.iter().flat_map(|s| [&s.prefill, &s.decode]);
        let together = self.together.iter().flat_map(|t| [&t.decode, &t.packed]);
        slots.chain(together).map(Model::held_activation_bytes).sum()
    }

    /// How many rounds have run as one packed program (a server's
    /// `wgraph_packed_rounds_total`), the warm-up's included.
    pub fn packed_rounds(&self) -> u64 {
        self.packed_rounds.load(Ordering::Relaxed)
    }

    /// Keeps the first `rows` positions of `slot`'s cache while the slot
    /// is free: the rounds it sits out write their placeholder at position
    /// `rows` instead of 0, so a later prompt that starts with the same
    /// tokens may resume at `past = rows` instead of computing them again
    /// (a chat's system prompt, a conversation's earlier turns). At most
    /// [`SlotDecoder::context`] - 1 (the placeholder's own row); 0 keeps
    /// nothing.
    pub fn keep_rows(&self, slot: usize, rows: usize) -> Result<(), SlotError> {
        self.slot(slot)?;
        if rows >= self.capacity {
            return Err(GenerateError::PromptTooLong { prompt: rows + 1, context: self.capacity }.into());
        }
        self.kept[slot].store(rows, Ordering::Relaxed);
        Ok(())
    }

    /// Each slot's kept rows, where a free slot's placeholder goes.
    fn kept(&self) -> Vec<usize> {
        self.kept.iter().map(|k| k.load(Ordering::Relaxed)).collect()
    }

    /// Runs `prompt` through `slot`'s prefill, replacing what the slot
    /// held, and returns the greedy next token.
    pub fn start(&self, slot: usize, prompt: &[i64]) -> Result<i64, SlotError> {
        if prompt.is_empty() {
            return Err(GenerateError::EmptyPrompt.into());
        }
        self.check(&[SlotInput { slot, tokens: prompt, past: 0 }])?;
        self.prefill(slot, prompt, 0)
    }

    /// Feeds `token` at position `past` (the tokens `slot` already holds)
    /// and returns the greedy next token. `past` must be below
    /// [`SlotDecoder::context`].
    pub fn step(&self, slot: usize, token: i64, past: usize) -> Result<i64, SlotError> {
        self.check(&[SlotInput { slot, tokens: &[token], past }])?;
        Ok(step(&self.slot(slot)?.decode, &[token], past)?)
    }

    /// One decode step for each busy slot in `busy` (each slot at most
    /// once), returning their greedy next tokens in `busy`'s order: one
    /// program for all of them when there are several. Slots not in
    /// `busy` are free: the step may overwrite their cache's position past
    /// their kept rows ([`SlotDecoder::keep_rows`]).
    pub fn step_busy(&self, busy: &[SlotStep]) -> Result<Vec<i64>, SlotError> {
        let inputs: Vec<[i64; 1]> = busy.iter().map(|s| [s.token]).collect();
        let inputs: Vec<SlotInput<'_>> =
            busy.iter().zip(&inputs).map(|(s, t)| SlotInput { slot: s.slot, tokens: t, past: s.past }).collect();
        self.check(&inputs)?;
        self.decode_together(&self.kept(), busy)
    }

    /// One round: every input's tokens fed to its slot (each slot at most
    /// once; a prompt at `past` 0 replaces what the slot held), returning
    /// each input's greedy next token in order. Busy slots step together;
    /// prompts run in one packed program with them or each in its slot's
    /// prefill, whichever has been faster on this device for rounds like
    /// this one. Slots not in `inputs` are free: their rows past the kept
    /// ones ([`SlotDecoder::keep_rows`]) may be overwritten.
    pub fn advance(&self, inputs: &[SlotInput<'_>]) -> Result<Vec<i64>, SlotError> {
        self.check(inputs)?;
        let prompts = inputs.iter().filter(|i| i.tokens.len() > 1);
        let round = Round {
            prompts: prompts.clone().count(),
            prompt_rows: prompts.map(|i| i.tokens.len()).sum(),
            singles: inputs.iter().filter(|i| i.tokens.len() == 1).count(),
            packed_rows: self.packed_rows(inputs),
        };
        // Activations grow with the packed rows: past a prefill's worth
        // (or llama.cpp's default batch), prompts run apart.
        let budget = self.capacity.max(PACKED_ROWS);
        let way = match &self.together {
            Some(_) if round.packed_rows <= budget => self.costs().choose(round),
            _ => Way::Separate,
        };
        match way {
            Way::Packed => self.run_packed(inputs),
            Way::Separate => self.run_separately(inputs),
        }
    }

    /// [`SlotDecoder::advance`] as one program over every slot, the
    /// inputs' tokens packed one slot after another (as many as given:
    /// `advance` packs at most the larger of the context and 2048 tokens).
    pub fn run_packed(&self, inputs: &[SlotInput<'_>]) -> Result<Vec<i64>, SlotError> {
        self.check(inputs)?;
        let Some(together) = &self.together else { return self.run_separately(inputs) };
        let started = Instant::now();
        let feed = feed::packed_rows(&self.kept(), inputs)?;
        let next = next_tokens(&together.packed, feed, inputs.iter().map(|i| i.slot))?;
        self.costs().packed(self.packed_rows(inputs), ms_since(started));
        self.packed_rounds.fetch_add(1, Ordering::Relaxed);
        Ok(next)
    }

    /// Rows of a packed program: every input's tokens, and one placeholder
    /// per free slot.
    fn packed_rows(&self, inputs: &[SlotInput<'_>]) -> usize {
        let tokens: usize = inputs.iter().map(|i| i.tokens.len()).sum();
        tokens + self.slots.len().saturating_sub(inputs.len())
    }

    /// [`SlotDecoder::advance`] with the one-token inputs as one batched
    /// step, then each longer input through its slot's prefill.
    pub fn run_separately(&self, inputs: &[SlotInput<'_>]) -> Result<Vec<i64>, SlotError> {
        self.check(inputs)?;
        let steps: Vec<SlotStep> = inputs
            .iter()
            .filter(|i| i.tokens.len() == 1)
            .map(|i| SlotStep { slot: i.slot, token: i.tokens[0], past: i.past })
            .collect();
        // The step runs first and counts the prompts' slots as free: their
        // placeholder goes at the row each prompt starts at, which its
        // prefill then overwrites (not at rows kept before the slot's
        // last conversation, which the prompt may resume after).
        let mut kept = self.kept();
        for input in inputs.iter().filter(|i| i.tokens.len() > 1) {
            kept[input.slot] = input.past;
        }
        let mut stepped = self.decode_together(&kept, &steps)?.into_iter();
        let started = Instant::now();
        let mut rows = 0;
        let mut next = Vec::with_capacity(inputs.len());
        for input in inputs {
            next.push(match input.tokens.len() {
                1 => stepped.next().ok_or_else(|| GenerateError::MissingOutput("next_token".into()))?,
                n => {
                    rows += n;
                    self.prefill(input.slot, input.tokens, input.past)?
                }
            });
        }
        if rows > 0 {
            self.costs().prefilled(rows, ms_since(started));
        }
        Ok(next)
    }

    /// Runs every program once on placeholder prompts of `prompt_len`
    /// tokens (at most the context): drivers that compile a kernel at its
    /// first dispatch (CPU drivers take seconds per kernel) do so now, not
    /// in the middle of a conversation, and those first runs, which say
    /// nothing of speed, are behind the round planner. Every slot is free
    /// afterwards.
    pub fn warm_up(&self, prompt_len: usize) -> Result<(), SlotError> {
        let prompt = vec![0; prompt_len.clamp(1, self.capacity)];
        let every_slot = |tokens| -> Vec<SlotInput<'_>> {
            (0..self.slots.len()).map(|slot| SlotInput { slot, tokens, past: 0 }).collect()
        };
        self.run_separately(&[SlotInput { slot: 0, tokens: &prompt, past: 0 }])?;
        self.run_separately(&every_slot(&[0]))?;
        if self.together.is_some() {
            self.run_packed(&every_slot(&prompt))?;
        }
        Ok(())
    }

    /// Each kernel's time in one step of every slot at once (each slot
    /// given `token` at `past`, its cache written there as a step writes
    /// it), dispatched alone: where a batched step's time goes
    /// (`examples/slot_steps.rs --profile`). `None` with one slot.
    pub fn profile_all_busy(&self, token: i64, past: usize) -> Result<Option<Vec<KernelTime>>, SlotError> {
        let Some(together) = &self.together else { return Ok(None) };
        let busy: Vec<SlotStep> = (0..self.slots.len()).map(|slot| SlotStep { slot, token, past }).collect();
        Ok(Some(together.decode.profile(feed::one_token_each(&self.kept(), &busy)?)?))
    }

    /// Each kernel's time in [`SlotDecoder::run_packed`] on `inputs`,
    /// dispatched alone (its caches written as a run writes them). `None`
    /// with one slot.
    pub fn profile_packed(&self, inputs: &[SlotInput<'_>]) -> Result<Option<Vec<KernelTime>>, SlotError> {
        self.check(inputs)?;
        let Some(together) = &self.together else { return Ok(None) };
        Ok(Some(together.packed.profile(feed::packed_rows(&self.kept(), inputs)?)?))
    }

    /// The busy slots' decode step: one program when there are several,
    /// each other slot's placeholder after its `kept` rows.
    fn decode_together(&self, kept: &[usize], busy: &[SlotStep]) -> Result<Vec<i64>, SlotError> {
        let together = match &self.together {
            Some(t) if busy.len() > 1 => &t.decode,
            _ => return busy.iter().map(|s| Ok(step(&self.slot(s.slot)?.decode, &[s.token], s.past)?)).collect(),
        };
        let started = Instant::now();
        let next = next_tokens(together, feed::one_token_each(kept, busy)?, busy.iter().map(|s| s.slot))?;
        self.costs().stepped(ms_since(started));
        Ok(next)
    }

    /// `tokens` through `slot`'s own program at `past`.
    fn prefill(&self, slot: usize, tokens: &[i64], past: usize) -> Result<i64, SlotError> {
        let s = self.slot(slot)?;
        let model = if tokens.len() == 1 { &s.decode } else { &s.prefill };
        Ok(step(model, tokens, past)?)
    }

    /// Refuses unknown slots, a slot twice, empty inputs and inputs that
    /// overflow their slot's cache.
    fn check(&self, inputs: &[SlotInput<'_>]) -> Result<(), SlotError> {
        for (i, input) in inputs.iter().enumerate() {
            self.slot(input.slot)?;
            if input.tokens.is_empty() {
                return Err(GenerateError::EmptyPrompt.into());
            }
            let end = input.past + input.tokens.len();
            if end > self.capacity {
                return Err(GenerateError::PromptTooLong { prompt: end, context: self.capacity }.into());
            }
            if inputs[..i].iter().any(|earlier| earlier.slot == input.slot) {
                return Err(SlotError::SlotTwice { slot: input.slot });
            }
        }
        Ok(())
    }

    fn slot(&self, slot: usize) -> Result<&Slot, SlotError> {
        self.slots.get(slot).ok_or(SlotError::NoSuchSlot { slot, slots: self.slots.len() })
    }

    fn costs(&self) -> std::sync::MutexGuard<'_, RoundCosts> {
        // The costs are only estimates: a poisoned lock still holds usable ones.
        self.costs.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Runs a program over every slot and picks the next token of each of
/// `slots`, in order, from its row of `next_token`.
fn next_tokens(
    model: &Model,
    feed: Vec<(String, Tensor)>,
    slots: impl Iterator<Item = usize>,
) -> Result<Vec<i64>, SlotError> {
    let out = model.run(feed)?;
    let missing = || GenerateError::MissingOutput("next_token".into());
    let next = out.get("next_token").ok_or_else(missing)?.to_i64_vec();
    slots.map(|slot| next.get(slot).copied().ok_or_else(|| missing().into())).collect()
}

fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1e3
}
