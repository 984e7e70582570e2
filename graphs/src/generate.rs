//! Greedy generation for decoder graphs with a KV cache: one compiled
//! decode graph reused for the prompt and every new token (the symbolic
//! `seq` and `past` dims change per step), the cache carried between steps.

use crate::llama::{self, LlamaConfig, LlamaGraph};
use wgraph::{Compiler, Device, LoadError, Model, RuntimeError, Tensor, Weights};

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

/// A compiled LLaMA-style decoder ready to generate.
pub struct Generator {
    cfg: LlamaConfig,
    model: Model,
}

impl Generator {
    pub fn new(cfg: LlamaConfig, weights: &Weights, device: &Device) -> Result<Generator, GenerateError> {
        let graph = llama::build(&cfg, LlamaGraph::Decode)?;
        let model = Compiler::new(device).compile(&graph, weights)?;
        Ok(Generator { cfg, model })
    }

    /// The config's EOS token ids (where HF's `generate` stops by default).
    pub fn eos_token_ids(&self) -> &[i64] {
        &self.cfg.eos_token_ids
    }

    /// The model's context: prompt and generated tokens together never exceed it.
    pub fn context(&self) -> usize {
        self.cfg.max_position_embeddings
    }

    /// How many of `max_new_tokens` fit in the context after a prompt of
    /// `prompt_len` tokens.
    pub fn new_tokens_that_fit(&self, prompt_len: usize, max_new_tokens: usize) -> usize {
        max_new_tokens.min(self.context().saturating_sub(prompt_len))
    }

    /// Greedy decoding (HF `generate(do_sample=False)`): the prompt followed
    /// by up to `max_new_tokens` tokens, stopping after any token in `stop`
    /// (pass `eos_token_ids()` for HF's default behaviour) or when the
    /// model's context is full.
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
        let (kvh, hd) = (self.cfg.num_key_value_heads, self.cfg.head_dim);
        let empty = || Tensor::new([1, kvh, 0, hd], Vec::<f32>::new());
        let mut past: Vec<(Tensor, Tensor)> = Vec::with_capacity(self.cfg.num_hidden_layers);
        for _ in 0..self.cfg.num_hidden_layers {
            let (k, v) = (empty(), empty());
            past.push((k.map_err(tensor_err)?, v.map_err(tensor_err)?));
        }
        let mut tokens = prompt.to_vec();
        let mut step_ids = prompt.to_vec();
        for _ in 0..max_new_tokens {
            let done = tokens.len() - step_ids.len();
            let seq = step_ids.len();
            let mut feed: Vec<(String, Tensor)> = vec![
                ("input_ids".into(), Tensor::new([1, seq], step_ids.clone()).map_err(tensor_err)?),
                (
                    "position_ids".into(),
                    Tensor::new([1, seq], (done as i64..(done + seq) as i64).collect::<Vec<_>>())
                        .map_err(tensor_err)?,
                ),
                ("attention_mask".into(), Tensor::new([1, done + seq], vec![1i64; done + seq]).map_err(tensor_err)?),
            ];
            for (i, (k, v)) in past.iter().enumerate() {
                feed.push((format!("past.{i}.key"), k.clone()));
                feed.push((format!("past.{i}.value"), v.clone()));
            }
            let out = self.model.run(feed)?;
            let logits = out.get("logits").ok_or_else(|| GenerateError::MissingOutput("logits".into()))?;
            let vocab = self.cfg.vocab_size;
            let last = &logits.to_f32_vec()[(seq - 1) * vocab..seq * vocab];
            // First maximum, as torch.argmax.
            let next = last
                .iter()
                .enumerate()
                .fold((0usize, f32::NEG_INFINITY), |b, (i, &v)| if v > b.1 { (i, v) } else { b })
                .0 as i64;
            for (i, slot) in past.iter_mut().enumerate() {
                let get = |name: String| out.get(&name).cloned().ok_or(GenerateError::MissingOutput(name));
                *slot = (get(format!("present.{i}.key"))?, get(format!("present.{i}.value"))?);
            }
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

fn tensor_err(e: wgraph::graph::TensorError) -> GenerateError {
    GenerateError::Runtime(RuntimeError::Readback { tensor: "kv cache".into(), detail: e.to_string() })
}
