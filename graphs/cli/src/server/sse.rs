//! OpenAI's streaming format: `data: {chunk}` events as text is made, a
//! last chunk with `finish_reason` (and a usage chunk when
//! `stream_options.include_usage`), then `data: [DONE]`. A client that
//! goes away drops the stream, which closes the generation's channel and
//! frees its slot.

use super::decoder::DecodeEvent;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde_json::{json, Value};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc::{self, UnboundedReceiver};
use tokio_stream::wrappers::UnboundedReceiverStream;
use tokio_stream::{Stream, StreamExt};

/// Which route's chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Chat,
    Completion,
}

/// A fresh id (`chatcmpl-…` / `cmpl-…`) and the Unix time.
pub(crate) fn id_and_time(shape: Shape) -> (String, u64) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let prefix = if shape == Shape::Chat { "chatcmpl" } else { "cmpl" };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    (format!("{prefix}-{n}"), now)
}

/// The event stream of one generation.
pub(crate) fn stream(
    mut events: UnboundedReceiver<DecodeEvent>,
    shape: Shape,
    model: String,
    include_usage: bool,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (tx, rx) = mpsc::unbounded_channel::<Event>();
    let (id, created) = id_and_time(shape);
    let chunk = move |delta: Value, finish: Value| -> Event {
        let body = match shape {
            Shape::Chat => json!({"id": id, "object": "chat.completion.chunk", "created": created, "model": model,
                                  "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}),
            Shape::Completion => json!({"id": id, "object": "text_completion", "created": created, "model": model,
                                        "choices": [{"index": 0, "text": delta.get("content").cloned()
                                            .unwrap_or(json!("")), "logprobs": null, "finish_reason": finish}]}),
        };
        Event::default().data(body.to_string())
    };
    // Translates the model thread's events; stops when the client is gone
    // (its send fails), dropping `events` so the model thread frees the slot.
    tokio::spawn(async move {
        if shape == Shape::Chat && tx.send(chunk(json!({"role": "assistant", "content": ""}), Value::Null)).is_err() {
            return;
        }
        while let Some(event) = events.recv().await {
            let sent = match event {
                DecodeEvent::Text(text) => tx.send(chunk(json!({"content": text}), Value::Null)),
                DecodeEvent::Failed(e) => {
                    let _ = tx.send(Event::default().data(e.body().to_string()));
                    break;
                }
                DecodeEvent::Done { finish, usage } => {
                    let _ = tx.send(chunk(json!({}), json!(finish.as_str())));
                    if include_usage {
                        let usage = usage.json();
                        let _ = tx.send(Event::default().data(json!({"choices": [], "usage": usage}).to_string()));
                    }
                    break;
                }
            };
            if sent.is_err() {
                return;
            }
        }
        let _ = tx.send(Event::default().data("[DONE]"));
    });
    Sse::new(UnboundedReceiverStream::new(rx).map(Ok)).keep_alive(KeepAlive::default())
}
