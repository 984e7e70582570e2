//! `POST /v1/chat/completions` and `/v1/completions`: the prompt checked
//! against the context, queued for a decoder slot, answered whole or as
//! server-sent events (`stream: true`).

use super::api_error::ApiError;
use super::decoder::{DecodeEvent, DecodeJob, Finish, Usage};
use super::json_body::JsonBody;
use super::openai::{ChatRequest, CompletionRequest, Prompt, Sampling};
use super::sse::{self, Shape};
use super::state::{AppState, Backend};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::mpsc;
use wgraph_models::chat::ChatTemplateError;

pub(crate) async fn chat_completions(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<ChatRequest>,
) -> Result<Response, ApiError> {
    let Backend::Decoder { prompter, .. } = &state.backend else { return Err(not_a_decoder()) };
    if req.messages.is_empty() {
        return Err(ApiError::invalid("`messages` is empty: give at least one message"));
    }
    let prompt = prompter.prompt_ids(&req.messages).map_err(template_error)?;
    let max = req.sampling.max_completion_tokens.or(req.sampling.max_tokens);
    generate(&state, prompt, max, req.sampling, Shape::Chat).await
}

pub(crate) async fn completions(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<CompletionRequest>,
) -> Result<Response, ApiError> {
    let Backend::Decoder { prompter, vocab_size, .. } = &state.backend else { return Err(not_a_decoder()) };
    let prompt = match req.prompt {
        Prompt::Text(text) => prompter.encode(&text).map_err(template_error)?,
        Prompt::Ids(ids) => {
            if let Some(bad) = ids.iter().find(|&&i| i < 0 || i as usize >= *vocab_size) {
                return Err(ApiError::invalid(format!(
                    "token id {bad} in `prompt` is outside the vocabulary (0..{vocab_size})"
                )));
            }
            ids
        }
    };
    if prompt.is_empty() {
        return Err(ApiError::invalid("the prompt is empty"));
    }
    // OpenAI's default for completions.
    let max = Some(req.sampling.max_tokens.unwrap_or(16));
    generate(&state, prompt, max, req.sampling, Shape::Completion).await
}

/// Queues the generation and answers as the request asked.
async fn generate(
    state: &AppState,
    prompt: Vec<i64>,
    max_tokens: Option<usize>,
    sampling: Sampling,
    shape: Shape,
) -> Result<Response, ApiError> {
    let Backend::Decoder { queue, context, .. } = &state.backend else { return Err(not_a_decoder()) };
    if let Some(t) = sampling.temperature.filter(|&t| t != 0.0) {
        return Err(ApiError::invalid(format!("`temperature` {t}: wgraph decodes greedily; send 0 or leave it out")));
    }
    if let Some(n) = sampling.n.filter(|&n| n != 1) {
        return Err(ApiError::invalid(format!("`n` {n}: one choice per request")));
    }
    if prompt.len() >= *context {
        return Err(ApiError::over_limit(
            StatusCode::PAYLOAD_TOO_LARGE,
            "prompt_too_long",
            "context_length",
            *context as u64,
            prompt.len() as u64,
            format!("the prompt has {} tokens; a slot holds {context} positions with the answer", prompt.len()),
        ));
    }
    let room = context - prompt.len();
    let max_new_tokens = max_tokens.unwrap_or(room).min(room);
    if max_new_tokens == 0 {
        return Err(ApiError::invalid("`max_tokens` 0: ask for at least one token"));
    }
    let (events, mut rx) = mpsc::unbounded_channel();
    let stop = sampling.stop.map(|s| s.into_vec()).unwrap_or_default();
    queue.submit(DecodeJob { prompt, max_new_tokens, stop, events })?;
    let model = sampling.model.unwrap_or_else(|| state.model_name.clone());
    if sampling.stream {
        let include_usage = sampling.stream_options.is_some_and(|o| o.include_usage);
        return Ok(sse::stream(rx, shape, model, include_usage).into_response());
    }
    let mut text = String::new();
    while let Some(event) = rx.recv().await {
        match event {
            DecodeEvent::Text(piece) => text.push_str(&piece),
            DecodeEvent::Failed(e) => return Err(e),
            DecodeEvent::Done { finish, usage } => {
                return Ok(Json(whole(shape, &model, &text, finish, usage)).into_response())
            }
        }
    }
    Err(ApiError::unavailable("the model thread stopped"))
}

/// The non-streaming answer.
fn whole(shape: Shape, model: &str, text: &str, finish: Finish, usage: Usage) -> serde_json::Value {
    let usage = usage.json();
    let (id, created) = sse::id_and_time(shape);
    match shape {
        Shape::Chat => json!({
            "id": id, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish.as_str()}],
            "usage": usage,
        }),
        Shape::Completion => json!({
            "id": id, "object": "text_completion", "created": created, "model": model,
            "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish.as_str()}],
            "usage": usage,
        }),
    }
}

fn not_a_decoder() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "wrong_model_kind", "no generation here: this server runs an encoder")
}

fn template_error(e: ChatTemplateError) -> ApiError {
    match e {
        ChatTemplateError::Refused { .. } | ChatTemplateError::Render { .. } => ApiError::invalid(e.to_string()),
        other => ApiError::internal(other.to_string()),
    }
}
