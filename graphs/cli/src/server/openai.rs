//! Request and response bodies of the OpenAI-compatible routes
//! (`/v1/chat/completions`, `/v1/completions`, `/v1/embeddings`) and TEI's
//! (`/embed`, `/predict`). Unknown fields are ignored, as OpenAI's
//! clients send many; fields wgraph cannot honour are refused by name.

use serde::Deserialize;
use wgraph_models::chat::Message;
use wgraph_models::text::TextInput;

/// One string or a list of them (`input`, `inputs`, `stop`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }

    /// Each string as one encoder input.
    pub(crate) fn into_inputs(self) -> Vec<TextInput> {
        self.into_vec().into_iter().map(TextInput::Single).collect()
    }
}

/// One input of TEI's `/predict`: a text, or a pair `["query", "passage"]`
/// for a cross-encoder.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Sequence {
    Single(String),
    Pair(String, String),
}

/// TEI's `/predict` `inputs`: one sequence (a text, or a two-text array,
/// which is one pair as TEI reads it) or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum PredictInputs {
    One(Sequence),
    Many(Vec<Sequence>),
}

impl PredictInputs {
    pub(crate) fn into_vec(self) -> Vec<TextInput> {
        let input = |s: Sequence| match s {
            Sequence::Single(t) => TextInput::Single(t),
            Sequence::Pair(a, b) => TextInput::Pair(a, b),
        };
        match self {
            PredictInputs::One(s) => vec![input(s)],
            PredictInputs::Many(v) => v.into_iter().map(input).collect(),
        }
    }
}

/// TEI's `POST /predict`.
#[derive(Debug, Deserialize)]
pub(crate) struct PredictRequest {
    pub(crate) inputs: PredictInputs,
    #[serde(default)]
    pub(crate) truncate: bool,
    /// Logits instead of probabilities (refused: not kept).
    #[serde(default)]
    pub(crate) raw_scores: bool,
}

/// TEI's `POST /embed`.
#[derive(Debug, Deserialize)]
pub(crate) struct TeiRequest {
    pub(crate) inputs: OneOrMany,
    #[serde(default)]
    pub(crate) truncate: bool,
    /// `/embed`: the model's vectors are unit length; `false` is refused.
    pub(crate) normalize: Option<bool>,
}

/// OpenAI's `POST /v1/embeddings`.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingsRequest {
    pub(crate) input: OneOrMany,
    pub(crate) model: Option<String>,
    /// `float` (the default) or `base64` (little-endian f32 bytes).
    pub(crate) encoding_format: Option<String>,
}

/// Sampling fields: wgraph decodes greedily, so `temperature` must be 0
/// (or absent) and `n` 1.
#[derive(Debug, Deserialize)]
pub(crate) struct Sampling {
    pub(crate) max_tokens: Option<usize>,
    /// The newer name of `max_tokens` (chat only).
    pub(crate) max_completion_tokens: Option<usize>,
    pub(crate) temperature: Option<f64>,
    pub(crate) n: Option<usize>,
    pub(crate) stop: Option<OneOrMany>,
    #[serde(default)]
    pub(crate) stream: bool,
    pub(crate) stream_options: Option<StreamOptions>,
    pub(crate) model: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub(crate) include_usage: bool,
}

/// OpenAI's `POST /v1/chat/completions`.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest {
    pub(crate) messages: Vec<Message>,
    #[serde(flatten)]
    pub(crate) sampling: Sampling,
}

/// A completion prompt: text or token ids.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum Prompt {
    Text(String),
    Ids(Vec<i64>),
}

/// OpenAI's `POST /v1/completions`.
#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    pub(crate) prompt: Prompt,
    #[serde(flatten)]
    pub(crate) sampling: Sampling,
}
