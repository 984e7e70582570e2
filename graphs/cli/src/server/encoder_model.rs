//! The encoder models the server runs: sentence embedders (vectors) and
//! sequence classifiers (each label's probability), loaded and compiled
//! on the model thread, run on one batch of texts at a time.

use std::path::Path;
use tokenizers::Tokenizer;
use wgraph::{Device, Loader, TieredModel, Weights};
use wgraph_models::embed::SentenceEmbedder;
use wgraph_models::text::{TextEncoder, TextInput};

/// Which encoder a checkpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncoderKind {
    Embedding,
    Classifier,
}

/// A compiled encoder.
pub(crate) enum EncoderModel {
    Embed(SentenceEmbedder),
    Classify(Classifier),
}

impl EncoderModel {
    /// Bytes of activation memory the compiled model keeps between runs.
    pub(crate) fn held_activation_bytes(&self) -> u64 {
        let tiered = match self {
            EncoderModel::Embed(e) => e.model(),
            EncoderModel::Classify(c) => &c.model,
        };
        tiered.current().held_activation_bytes()
    }
}

pub(crate) struct Classifier {
    model: TieredModel,
    text: TextEncoder,
    /// The graph, for the inputs it takes.
    ir: wgraph::graph::Ir,
}

/// What the handlers need before the model is compiled: the tokenizer
/// (to count tokens against the limit) and the limit itself.
pub(crate) struct EncoderFrontEnd {
    pub(crate) kind: EncoderKind,
    pub(crate) tokenizer: Tokenizer,
    /// Tokens per input, special tokens included (sentence-transformers'
    /// `max_seq_length`, else the positions).
    pub(crate) max_input_tokens: usize,
    pub(crate) labels: Vec<String>,
}

impl EncoderFrontEnd {
    pub(crate) fn open(dir: &Path, kind: EncoderKind) -> Result<EncoderFrontEnd, String> {
        let config = wgraph_models::HfConfig::from_dir(dir).map_err(|e| e.to_string())?;
        let positions = config.usize_or("max_position_embeddings", 512).map_err(|e| e.to_string())?;
        let max_input_tokens = match kind {
            EncoderKind::Embedding => {
                wgraph_models::embed::max_seq_length(dir, positions).map_err(|e| e.to_string())?
            }
            EncoderKind::Classifier => positions,
        };
        let labels = match kind {
            EncoderKind::Classifier => wgraph_models::zoo::load(dir).map_err(|e| e.to_string())?.labels,
            EncoderKind::Embedding => Vec::new(),
        };
        // Counted per text: a tokenizer that pads every text to a fixed
        // length would count the padding and hide inputs over the limit.
        let tokenizer = wgraph_models::text::unpadded_tokenizer_at(dir)?;
        Ok(EncoderFrontEnd { kind, tokenizer, max_input_tokens, labels })
    }

    /// Tokens of `input` with special tokens, untruncated.
    pub(crate) fn count_tokens(&self, input: &TextInput) -> Result<usize, String> {
        let encoded = self.tokenizer.encode(input.as_encode_input(), true);
        encoded.map(|e| e.get_ids().len()).map_err(|e| format!("tokenizing: {e}"))
    }
}

impl EncoderModel {
    /// Loads, checks and compiles the checkpoint for `device`.
    pub(crate) fn open(dir: &Path, kind: EncoderKind, device: &Device) -> Result<EncoderModel, String> {
        match kind {
            EncoderKind::Embedding => {
                SentenceEmbedder::open(dir, device).map(EncoderModel::Embed).map_err(|e| e.to_string())
            }
            EncoderKind::Classifier => Classifier::open(dir, device).map(EncoderModel::Classify),
        }
    }

    /// One vector per input: the embedding, or each label's probability.
    pub(crate) fn run(&self, inputs: &[TextInput]) -> Result<Vec<Vec<f32>>, String> {
        match self {
            EncoderModel::Embed(e) => {
                let texts = inputs
                    .iter()
                    .map(|i| match i {
                        TextInput::Single(t) => Ok(t.as_str()),
                        TextInput::Pair(..) => Err("a sentence embedder takes single texts, not pairs".to_string()),
                    })
                    .collect::<Result<Vec<&str>, String>>()?;
                e.embed(&texts).map_err(|e| e.to_string())
            }
            EncoderModel::Classify(c) => c.probabilities(inputs),
        }
    }
}

impl Classifier {
    fn open(dir: &Path, device: &Device) -> Result<Classifier, String> {
        let loaded = wgraph_models::zoo::load(dir).map_err(|e| e.to_string())?;
        let ir = loaded.graph.ir().map_err(|e| e.to_string())?.clone();
        let weights = Weights::from_dir(dir).map_err(|e| e.to_string())?;
        let model = Loader::new(device).load_tiered(&loaded.graph, &weights).map_err(|e| e.to_string())?;
        let positions = loaded.config.usize_or("max_position_embeddings", 512).map_err(|e| e.to_string())?;
        let text = TextEncoder::from_dir(dir, positions).map_err(|e| e.to_string())?;
        Ok(Classifier { model, text, ir })
    }

    /// Softmax of the logits, one row per input (as `wgraph classify`).
    fn probabilities(&self, inputs: &[TextInput]) -> Result<Vec<Vec<f32>>, String> {
        let batch = self.text.encode_inputs(inputs).map_err(|e| e.to_string())?;
        let out = self.model.run(batch.named_for(&self.ir)).map_err(|e| e.to_string())?;
        let logits = out.get("logits").ok_or("the model produced no `logits`")?;
        let n = logits.shape().get(1).copied().unwrap_or(0).max(1);
        Ok(logits
            .to_f32_vec()
            .chunks(n)
            .map(|row| {
                let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let exp: Vec<f32> = row.iter().map(|v| (v - m).exp()).collect();
                let total: f32 = exp.iter().sum();
                exp.iter().map(|v| v / total).collect()
            })
            .collect())
    }
}
