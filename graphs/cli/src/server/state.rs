//! What every handler reads: the limits, the model's description, whether
//! it is ready, the metrics, and the queue to the thread that owns it.

use super::decoder::DecoderQueue;
use super::encoder::EncoderQueue;
use super::encoder_model::EncoderFrontEnd;
use super::metrics::Metrics;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use wgraph_models::chat::ChatPrompter;

/// Limits from the flags (see `serve --help`).
#[derive(Debug, Clone)]
pub(crate) struct Limits {
    pub(crate) max_body_bytes: usize,
    pub(crate) max_batch_tokens: usize,
    pub(crate) max_wait: Duration,
    pub(crate) max_queued: usize,
    pub(crate) max_client_batch_size: usize,
    /// `--debug-step-delay-ms`: encoders sleep this long before each batch.
    pub(crate) debug_delay: Duration,
    /// `--debug-fail-batch`: the encoder batch to fail.
    pub(crate) debug_fail_batch: Option<u64>,
}

/// `/info`: set once the model is compiled.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ModelInfo {
    pub(crate) model_id: String,
    /// `embedding`, `classifier` or `decoder`.
    pub(crate) model_type: &'static str,
    /// Embedding width, label count, or vocabulary size.
    pub(crate) dims: usize,
    /// Tokens one input (or prompt plus answer) may have.
    pub(crate) max_input_length: usize,
    pub(crate) labels: Vec<String>,
    pub(crate) adapter: String,
    pub(crate) max_batch_tokens: usize,
    pub(crate) max_client_batch_size: usize,
    /// Decoder slots (conversations in flight).
    pub(crate) parallel: usize,
    pub(crate) version: &'static str,
}

/// The model's queue and what the handlers need to fill it, by kind.
pub(crate) enum Backend {
    Encoder { queue: EncoderQueue, front: Box<EncoderFrontEnd> },
    Decoder { queue: DecoderQueue, prompter: Arc<ChatPrompter>, context: usize, vocab_size: usize },
}

/// `/info` and `/health`: filled by the model thread once it compiled.
#[derive(Default)]
pub(crate) struct ModelStatus {
    pub(crate) info: OnceLock<ModelInfo>,
    pub(crate) ready: AtomicBool,
}

pub(crate) struct AppState {
    pub(crate) limits: Limits,
    pub(crate) status: Arc<ModelStatus>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) api_key: Option<String>,
    pub(crate) backend: Backend,
    /// The name answers carry as `model`.
    pub(crate) model_name: String,
}
