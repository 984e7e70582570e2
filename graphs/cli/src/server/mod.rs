//! The HTTP server behind `wgraph serve MODEL` (axum on tokio).
//! Encoders (sentence embedders, classifiers) batch concurrent requests
//! dynamically on one model thread; decoders serve `--parallel` slots in
//! turn. Every limit answers with a JSON error naming it.

mod api_error;
mod base64;
mod decoder;
mod encoder;
mod encoder_model;
mod fault;
mod job_queue;
mod json_body;
mod metrics;
mod model_thread;
mod openai;
mod router;
mod routes_encode;
mod routes_generate;
mod routes_status;
mod slot_contents;
mod sse;
mod startup;
mod state;
mod stop_strings;

use crate::Result;
use std::path::PathBuf;

pub(crate) const AFTER_HELP: &str = "\
Routes: POST /embed and /v1/embeddings (sentence embedders), POST /predict
(classifiers), POST /v1/chat/completions and /v1/completions (decoders;
`stream: true` for server-sent events; greedy), GET /health (200 once the
model is compiled), GET /info, GET /metrics (Prometheus).
Limits answer with a JSON error naming the limit: 413 for a body, an input
or a batch over its limit (`truncate: true` truncates inputs instead), 429
with Retry-After when --max-queued requests wait, 401 without the API key.
SIGTERM or Ctrl-C: stop accepting, finish what is in flight (at most
--shutdown-timeout seconds), exit 0.";

#[derive(clap::Args)]
pub(crate) struct Args {
    /// A sentence-transformers BERT or classification checkpoint, or a
    /// LLaMA-style decoder (HF directory with a chat template, or GGUF file).
    pub(crate) model: PathBuf,
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: String,
    /// Port (0: any free port; the one taken is printed).
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
    /// Padded tokens one encoder batch may hold.
    #[arg(long, default_value_t = 8192)]
    pub(crate) max_batch_tokens: usize,
    /// How long the encoder waits for more requests to batch with the first.
    #[arg(long, default_value_t = 2)]
    pub(crate) max_wait_ms: u64,
    /// Requests that may wait for the model; more get 429.
    #[arg(long, default_value_t = 256)]
    pub(crate) max_queued: usize,
    /// Inputs one request may carry.
    #[arg(long, default_value_t = 64)]
    pub(crate) max_client_batch_size: usize,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = 2_000_000)]
    pub(crate) max_body_bytes: usize,
    /// Decoders: conversations generated at once (one KV cache each).
    #[arg(long, default_value_t = 1)]
    pub(crate) parallel: usize,
    /// Decoders: positions per slot, prompt and answer (at most the model's context).
    #[arg(long, default_value_t = 2048)]
    pub(crate) ctx_size: usize,
    /// Require `Authorization: Bearer KEY` (default: the WGRAPH_API_KEY
    /// environment variable, if set).
    #[arg(long)]
    pub(crate) api_key: Option<String>,
    /// Seconds to finish in-flight requests after SIGTERM.
    #[arg(long, default_value_t = 30)]
    pub(crate) shutdown_timeout: u64,
    /// The `model` name in answers (default: the path's last component).
    #[arg(long)]
    pub(crate) model_name: Option<String>,
    /// Sleep this long after each round of decoder steps, and before each
    /// encoder batch (tests of cancellation and shutdown need work that lasts).
    #[arg(long, default_value_t = 0, hide = true)]
    pub(crate) debug_step_delay_ms: u64,
    /// Fail the model thread's N-th batch as a device error would (tests
    /// of failure handling).
    #[arg(long, hide = true)]
    pub(crate) debug_fail_batch: Option<u64>,
}

/// Serves until SIGTERM or Ctrl-C (or a model that fails to load).
pub(crate) fn run(args: &Args) -> Result<()> {
    startup::run(args)
}
