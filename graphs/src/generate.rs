//! Greedy generation for decoder graphs with a KV cache on the device: a
//! prefill program for the prompt and a one-token decode program, compiled
//! once and reused for every step (the symbolic `past` changes per step),
//! sharing the weights and the cache, which grows in place.

use crate::llama::{self, LlamaConfig, LlamaGraph};
use wgraph::{CompileOptions, Device, LoadError, Loader, Model, RuntimeError, Tensor, Weights};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    #[error(transparent)]
    Model(#[from] crate::hf::ModelError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("the prompt is empty")]
    EmptyPrompt,
    #[error(
        "the prompt has {prompt} tokens, but the model's context is {context} positions \
         (`max_position_embeddings` in config.json): shorten the prompt"
    )]
    PromptTooLong { prompt: usize, context: usize },
    #[error("the decode graph produced no `{0}`")]
    MissingOutput(String),
}

/// Positions the device-side KV cache holds by default: the model's
/// context, up to this many (LLaMA 3 declares 131,072 positions, whose
/// cache would not fit in memory).
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// A compiled LLaMA-style decoder ready to generate. Two programs share the
/// weights and the KV cache, which stays on the device: the prefill (any
/// prompt length) and the decode step (one token, matrix-vector kernels).
/// Each step appends its keys and values to the cache in place and reads
/// back one token id.
pub struct Generator {
    cfg: LlamaConfig,
    capacity: usize,
    prefill: Model,
    decode: Model,
}

impl Generator {
    /// Compiles both programs with a cache of the model's context (at most
    /// [`DEFAULT_CACHE_CAPACITY`] positions).
    pub fn new(cfg: LlamaConfig, weights: Weights, device: &Device) -> Result<Generator, GenerateError> {
        let capacity = cfg.max_position_embeddings.min(DEFAULT_CACHE_CAPACITY);
        Generator::with_capacity(cfg, weights, device, capacity)
    }

    /// [`Generator::new`] with a cache just large enough for one generation
    /// of `max_new_tokens` after a `prompt_len`-token prompt (at most
    /// [`DEFAULT_CACHE_CAPACITY`] and the model's context): a one-shot
    /// command does not hold a cache for the whole context.
    pub fn for_one_generation(
        cfg: LlamaConfig,
        weights: Weights,
        device: &Device,
        prompt_len: usize,
        max_new_tokens: usize,
    ) -> Result<Generator, GenerateError> {
        let wanted = prompt_len.saturating_add(max_new_tokens);
        let capacity = wanted.min(cfg.max_position_embeddings).min(DEFAULT_CACHE_CAPACITY);
        Generator::with_capacity(cfg, weights, device, capacity)
    }

    /// [`Generator::new`] with a cache of `capacity` positions (prompt and
    /// generated tokens together; at most the model's context).
    pub fn with_capacity(
        cfg: LlamaConfig,
        mut weights: Weights,
        device: &Device,
        capacity: usize,
    ) -> Result<Generator, GenerateError> {
        let capacity = capacity.clamp(1, cfg.max_position_embeddings.max(1));
        let shape = [capacity, cfg.num_key_value_heads, cfg.head_dim];
        for i in 0..cfg.num_hidden_layers {
            for name in llama::cache_names(i) {
                let zeros = Tensor::zeros(wgraph::DType::F32, shape).map_err(tensor_err)?;
                weights.insert(format!("{}{name}", weights.prefix()), zeros);
            }
        }
        let options = CompileOptions { write_back: true, ..CompileOptions::default() };
        let decode_graph = llama::build(&cfg, LlamaGraph::Cached { seq: Some(1), capacity })?;
        let decode = Loader::new(device).with_options(options.clone()).load(&decode_graph, &weights)?;
        let prefill_graph = llama::build(&cfg, LlamaGraph::Cached { seq: None, capacity })?;
        // The prefill runs once per prompt: its attention at fewer rows per
        // invocation compiles several times faster (most of a cold first
        // token on CPU drivers) and runs nearly as fast.
        let options = CompileOptions { tier: wgraph::compile::KernelTier::CompactAttention, ..options };
        let prefill =
            Loader::new(device).with_options(options).sharing_weights_with(&decode).load(&prefill_graph, &weights)?;
        Ok(Generator { cfg, capacity, prefill, decode })
    }

    /// The one-token decode program (to profile a step: feed it
    /// [`step_feed`]).
    pub fn decode_model(&self) -> &Model {
        &self.decode
    }

    /// The config's EOS token ids (where HF's `generate` stops by default).
    pub fn eos_token_ids(&self) -> &[i64] {
        &self.cfg.eos_token_ids
    }

    /// The positions a generation can use: the model's context, or the
    /// cache's capacity when that is smaller. Prompt and generated tokens
    /// together never exceed it.
    pub fn context(&self) -> usize {
        self.capacity
    }

    /// How many of `max_new_tokens` fit in the context after a prompt of
    /// `prompt_len` tokens.
    pub fn new_tokens_that_fit(&self, prompt_len: usize, max_new_tokens: usize) -> usize {
        max_new_tokens.min(self.context().saturating_sub(prompt_len))
    }

    /// Greedy decoding (HF `generate(do_sample=False)`): the prompt followed
    /// by up to `max_new_tokens` tokens, stopping after any token in `stop`
    /// (pass `eos_token_ids()` for HF's default behaviour) or when the
    /// context is full.
    pub fn greedy(&self, prompt: &[i64], max_new_tokens: usize, stop: &[i64]) -> Result<Vec<i64>, GenerateError> {
        self.greedy_streaming(prompt, max_new_tokens, stop, |_| {})
    }

    /// [`Generator::greedy`], handing each new token to `on_token` as soon as
    /// it is chosen.
    pub fn greedy_streaming(
        &self,
        prompt: &[i64],
        max_new_tokens: usize,
        stop: &[i64],
        mut on_token: impl FnMut(i64),
    ) -> Result<Vec<i64>, GenerateError> {
        if prompt.is_empty() {
            return Err(GenerateError::EmptyPrompt);
        }
        if prompt.len() > self.context() {
            return Err(GenerateError::PromptTooLong { prompt: prompt.len(), context: self.context() });
        }
        let max_new_tokens = self.new_tokens_that_fit(prompt.len(), max_new_tokens);
        let mut tokens = prompt.to_vec();
        let mut step_ids = prompt.to_vec();
        for _ in 0..max_new_tokens {
            let past = tokens.len() - step_ids.len();
            let model = if step_ids.len() == 1 { &self.decode } else { &self.prefill };
            let next = step(model, &step_ids, past)?;
            tokens.push(next);
            on_token(next);
            step_ids = vec![next];
            if stop.contains(&next) {
                break;
            }
        }
        Ok(tokens)
    }
}

/// The inputs of one step on `ids` after `past` cached positions.
pub fn step_feed(ids: &[i64], past: usize) -> Result<Vec<(String, Tensor)>, GenerateError> {
    let seq = ids.len();
    let tensor = |shape: [usize; 2], v: Vec<i64>| Tensor::new(shape, v).map_err(tensor_err);
    Ok(vec![
        ("input_ids".into(), tensor([1, seq], ids.to_vec())?),
        ("position_ids".into(), tensor([1, seq], (past as i64..(past + seq) as i64).collect())?),
        ("past_attention_mask".into(), tensor([1, past], vec![1; past])?),
        ("attention_mask".into(), tensor([1, seq], vec![1; seq])?),
    ])
}

/// Runs one step on `ids` after `past` cached positions; the cache gets
/// their keys and values, the host the next token id.
pub(crate) fn step(model: &Model, ids: &[i64], past: usize) -> Result<i64, GenerateError> {
    let out = model.run(step_feed(ids, past)?)?;
    let next = out.get("next_token").ok_or_else(|| GenerateError::MissingOutput("next_token".into()))?;
    next.to_i64_vec().first().copied().ok_or_else(|| GenerateError::MissingOutput("next_token".into()))
}

pub(crate) fn tensor_err(e: wgraph::graph::TensorError) -> GenerateError {
    GenerateError::Runtime(RuntimeError::Readback { tensor: "kv cache".into(), detail: e.to_string() })
}
