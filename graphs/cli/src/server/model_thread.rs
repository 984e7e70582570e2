//! The thread that owns the device and the model: it loads and compiles
//! the checkpoint, marks the server ready, then serves its queue until the
//! server drops the queue's sender.

use super::decoder::{self, DecodeJob, DecoderSettings};
use super::encoder::{self, EncodeJob};
use super::encoder_model::{EncoderKind, EncoderModel};
use super::fault::InjectedFault;
use super::metrics::Metrics;
use super::slot_contents::SlotContents;
use super::state::{Limits, ModelInfo, ModelStatus};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use wgraph::{Device, Weights};
use wgraph_models::chat::{ChatPrompter, Message};
use wgraph_models::decode_slots::SlotDecoder;
use wgraph_models::text::TextInput;

/// What the thread reports once: ready, or why the model did not load.
pub(crate) type Loaded = tokio::sync::oneshot::Sender<Result<(), String>>;

/// Where the thread publishes readiness and its description.
pub(crate) struct Publish {
    pub(crate) status: Arc<ModelStatus>,
    pub(crate) loaded: Loaded,
}

impl Publish {
    fn ready(self, info: ModelInfo) {
        let _ = self.status.info.set(info);
        self.status.ready.store(true, Ordering::SeqCst);
        let _ = self.loaded.send(Ok(()));
    }
}

/// Spawns the encoder's model thread.
pub(crate) fn spawn_encoder(
    dir: PathBuf,
    kind: EncoderKind,
    mut info: ModelInfo,
    limits: Limits,
    rx: mpsc::Receiver<EncodeJob>,
    metrics: Arc<Metrics>,
    publish: Publish,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("wgraph-model".into()).spawn(move || {
        let loaded = Device::new().map_err(|e| e.to_string()).and_then(|device| {
            info.adapter = device.describe();
            EncoderModel::open(&dir, kind, &device).map(|m| (device, m))
        });
        let (_device, model) = match loaded {
            Ok(m) => m,
            Err(e) => {
                let _ = publish.loaded.send(Err(e));
                return;
            }
        };
        if kind == EncoderKind::Embedding {
            // The embedding width, from the model itself.
            if let Ok(v) = model.run(&[TextInput::Single("a".into())]) {
                info.dims = v.first().map_or(0, Vec::len);
            }
        }
        metrics.activation_bytes.store(model.held_activation_bytes(), Ordering::Relaxed);
        publish.ready(info);
        let batching = (limits.max_batch_tokens, limits.max_wait);
        let fault = InjectedFault::new(limits.debug_fail_batch);
        encoder::serve_batches(&model, rx, batching, (limits.debug_delay, &fault), &metrics);
    })
}

/// Tokens of the placeholder prompts a decoder warms up on: a chat
/// template's system prompt and a question.
const WARM_UP_PROMPT: usize = 128;

/// Spawns the decoder's model thread with `parallel` slots of `context` positions.
pub(crate) fn spawn_decoder(
    model: PathBuf,
    mut info: ModelInfo,
    prompter: Arc<ChatPrompter>,
    settings: DecoderSettings,
    rx: mpsc::Receiver<DecodeJob>,
    metrics: Arc<Metrics>,
    publish: Publish,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new().name("wgraph-model".into()).spawn(move || {
        let loaded = (|| -> Result<(Device, SlotDecoder, SlotContents), String> {
            let config = wgraph_models::HfConfig::from_dir(&model).map_err(|e| e.to_string())?;
            let cfg = wgraph_models::llama::LlamaConfig::from_hf(&config).map_err(|e| e.to_string())?;
            let weights = Weights::from_dir(&model).map_err(|e| e.to_string())?;
            let device = Device::new().map_err(|e| e.to_string())?;
            let decoder = SlotDecoder::new(cfg, weights, &device, info.parallel, info.max_input_length)
                .map_err(|e| e.to_string())?;
            // Kernels compile before the server says it is ready, not in a first request.
            decoder.warm_up(WARM_UP_PROMPT).map_err(|e| e.to_string())?;
            // Every slot starts with the template's system prompt computed,
            // as it has after serving a chat.
            let mut contents = SlotContents::new(decoder.slots());
            if let Ok(start) = prompter.prompt_ids(&[Message::new("user", "")]) {
                contents.seed(&decoder, &start);
            }
            Ok((device, decoder, contents))
        })();
        let (device, decoder, contents) = match loaded {
            Ok(d) => d,
            Err(e) => {
                let _ = publish.loaded.send(Err(e));
                return;
            }
        };
        info.adapter = device.describe();
        info.max_input_length = decoder.context();
        metrics.activation_bytes.store(decoder.held_activation_bytes(), Ordering::Relaxed);
        publish.ready(info);
        decoder::serve_slots(&decoder, prompter.tokenizer(), rx, &settings, &metrics, contents);
    })
}
