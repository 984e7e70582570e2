//! Starting and stopping: which kind of model the checkpoint is, its front
//! end (tokenizer, template), the model thread, the listener, and the
//! graceful shutdown on SIGTERM or Ctrl-C.

use super::decoder::{DecoderQueue, DecoderSettings};
use super::encoder::EncoderQueue;
use super::encoder_model::{EncoderFrontEnd, EncoderKind};
use super::metrics::Metrics;
use super::model_thread::{self, Publish};
use super::state::{AppState, Backend, Limits, ModelInfo, ModelStatus};
use super::Args;
use crate::error::failed;
use crate::Result;
use std::io::Write as _;
use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::Duration;
use wgraph_models::chat::ChatPrompter;

/// What the checkpoint is served as.
enum Kind {
    Encoder(EncoderKind),
    Decoder,
}

fn kind_of(model: &Path) -> Result<Kind> {
    let config = wgraph_models::HfConfig::from_dir(model)?;
    let archs = config.architectures();
    if config.model_type()? == "llama" {
        return Ok(Kind::Decoder);
    }
    if archs.iter().any(|a| a.ends_with("ForSequenceClassification")) {
        return Ok(Kind::Encoder(EncoderKind::Classifier));
    }
    match config.model_type()? {
        "bert" => Ok(Kind::Encoder(EncoderKind::Embedding)),
        other => Err(format!(
            "{}: model_type `{other}` ({archs:?}) is not served: serve takes sentence-transformers BERT \
             checkpoints, sequence classifiers and LLaMA-style decoders",
            model.display()
        )
        .into()),
    }
}

pub(crate) fn run(args: &Args) -> Result<()> {
    let limits = Limits {
        max_body_bytes: args.max_body_bytes,
        max_batch_tokens: args.max_batch_tokens.max(1),
        max_wait: Duration::from_millis(args.max_wait_ms),
        max_queued: args.max_queued,
        max_client_batch_size: args.max_client_batch_size.max(1),
        debug_delay: Duration::from_millis(args.debug_step_delay_ms),
        debug_fail_batch: args.debug_fail_batch,
    };
    let model_name = args
        .model_name
        .clone()
        .unwrap_or_else(|| args.model.file_name().map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned()));
    let api_key = args.api_key.clone().or_else(|| std::env::var("WGRAPH_API_KEY").ok()).filter(|k| !k.is_empty());
    let metrics = Arc::new(Metrics::new());
    let status = Arc::new(ModelStatus::default());
    let (loaded_tx, loaded_rx) = tokio::sync::oneshot::channel();
    let publish = Publish { status: status.clone(), loaded: loaded_tx };
    let mut info = ModelInfo {
        model_id: model_name.clone(),
        model_type: "embedding",
        dims: 0,
        max_input_length: 0,
        labels: Vec::new(),
        adapter: String::new(),
        max_batch_tokens: limits.max_batch_tokens,
        max_client_batch_size: limits.max_client_batch_size,
        parallel: 0,
        version: env!("CARGO_PKG_VERSION"),
    };
    let backend = match kind_of(&args.model)? {
        Kind::Encoder(kind) => {
            let front = EncoderFrontEnd::open(&args.model, kind)?;
            info.model_type = if kind == EncoderKind::Classifier { "classifier" } else { "embedding" };
            info.max_input_length = front.max_input_tokens;
            info.labels = front.labels.clone();
            info.dims = front.labels.len();
            let (tx, rx) = mpsc::channel();
            let model = args.model.clone();
            model_thread::spawn_encoder(model, kind, info, limits.clone(), rx, metrics.clone(), publish)?;
            Backend::Encoder {
                queue: EncoderQueue::new(tx, limits.max_queued, metrics.clone()),
                front: Box::new(front),
            }
        }
        Kind::Decoder => {
            let config = wgraph_models::HfConfig::from_dir(&args.model)?;
            let cfg = wgraph_models::llama::LlamaConfig::from_hf(&config)?;
            let prompter = Arc::new(ChatPrompter::open(&args.model, &cfg.eos_token_ids).map_err(|e| e.to_string())?);
            let context = args.ctx_size.clamp(1, cfg.max_position_embeddings.max(1));
            info.model_type = "decoder";
            info.dims = cfg.vocab_size;
            info.max_input_length = context;
            info.parallel = args.parallel.max(1);
            let settings = DecoderSettings {
                stop_ids: prompter.stop_ids().to_vec(),
                step_delay: Duration::from_millis(args.debug_step_delay_ms),
                fail_batch: args.debug_fail_batch,
            };
            let (tx, rx) = mpsc::channel();
            let thread_prompter = prompter.clone();
            model_thread::spawn_decoder(
                args.model.clone(),
                info,
                thread_prompter,
                settings,
                rx,
                metrics.clone(),
                publish,
            )?;
            let queue = DecoderQueue::new(tx, limits.max_queued, metrics.clone());
            Backend::Decoder { queue, prompter, context, vocab_size: cfg.vocab_size }
        }
    };
    let state = Arc::new(AppState { limits, status, metrics, api_key, backend, model_name });
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(serve(args, state, loaded_rx))
}

/// Listens until a signal (or a model that failed to load), then drains.
async fn serve(
    args: &Args,
    state: Arc<AppState>,
    loaded: tokio::sync::oneshot::Receiver<std::result::Result<(), String>>,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|e| failed(format!("cannot listen on {}:{}: {e}", args.host, args.port)))?;
    let address = listener.local_addr()?;
    // The one stdout line: scripts and tests read the port from it.
    let mut out = std::io::stdout().lock();
    writeln!(out, "wgraph serve: listening on http://{address}")?;
    out.flush()?;
    drop(out);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let (load_error_tx, load_error_rx) = tokio::sync::oneshot::channel::<String>();
    tokio::spawn(async move {
        match loaded.await {
            Ok(Ok(())) => eprintln!("wgraph serve: model ready"),
            Ok(Err(e)) => {
                let _ = load_error_tx.send(e);
            }
            Err(_) => {
                let _ = load_error_tx.send("the model thread ended before loading the model".into());
            }
        }
    });
    let shutdown_requested = {
        let stop_tx = stop_tx.clone();
        async move {
            // A dropped sender means the model loaded: only a message stops the server.
            let load_failed = async {
                match load_error_rx.await {
                    Ok(e) => e,
                    Err(_) => std::future::pending().await,
                }
            };
            let why = tokio::select! {
                _ = terminate_signal() => None,
                e = load_failed => Some(e),
            };
            let _ = stop_tx.send(true);
            why
        }
    };
    let (why_tx, why_rx) = tokio::sync::oneshot::channel();
    let graceful = async move {
        let _ = why_tx.send(shutdown_requested.await);
    };
    let app = super::router::router(state);
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let timeout = Duration::from_secs(args.shutdown_timeout);
    let deadline = async move {
        let _ = stop_rx.wait_for(|stopped| *stopped).await;
        tokio::time::sleep(timeout).await;
    };
    tokio::select! {
        r = server => r.map_err(|e| failed(format!("the server failed: {e}")))?,
        _ = deadline => eprintln!("wgraph serve: requests still in flight after --shutdown-timeout {}s; exiting", timeout.as_secs()),
    }
    match why_rx.await {
        Ok(Some(load_error)) => Err(failed(format!("the model did not load: {load_error}"))),
        _ => {
            eprintln!("wgraph serve: stopped");
            Ok(())
        }
    }
}

/// SIGTERM or Ctrl-C.
async fn terminate_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(_) => {
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
