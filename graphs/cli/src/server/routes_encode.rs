//! `POST /embed` and `/v1/embeddings` (sentence embedders), `POST
//! /predict` (classifiers): inputs checked against the limits, queued for
//! the batching model thread, answered with their own rows.

use super::api_error::ApiError;
use super::encoder::EncodeJob;
use super::encoder_model::EncoderKind;
use super::json_body::JsonBody;
use super::openai::{EmbeddingsRequest, PredictInputs, PredictRequest, TeiRequest};
use super::state::{AppState, Backend};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::oneshot;
use wgraph_models::text::TextInput;

/// TEI's `/embed`: one vector per input.
pub(crate) async fn embed(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<TeiRequest>,
) -> Result<Json<Vec<Vec<f32>>>, ApiError> {
    if req.normalize == Some(false) {
        return Err(ApiError::invalid(
            "`normalize: false` is not available: this model's graph ends in L2 normalisation",
        ));
    }
    let (vectors, _) = encode(&state, EncoderKind::Embedding, req.inputs.into_inputs(), req.truncate).await?;
    Ok(Json(vectors))
}

/// OpenAI's `/v1/embeddings`.
pub(crate) async fn openai_embeddings(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<EmbeddingsRequest>,
) -> Result<Json<Value>, ApiError> {
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::invalid(format!("`encoding_format` `{other}`: use `float` or `base64`")));
        }
    };
    let (vectors, tokens) = encode(&state, EncoderKind::Embedding, req.input.into_inputs(), false).await?;
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 { json!(super::base64::f32_le(&v)) } else { json!(v) };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": req.model.unwrap_or_else(|| state.model_name.clone()),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// TEI's `/predict`: every label with its probability, highest first; a
/// list of such lists for a list of inputs. An input is a text or a pair
/// of texts (`["query", "passage"]`, a cross-encoder's).
pub(crate) async fn predict(
    State(state): State<Arc<AppState>>,
    JsonBody(req): JsonBody<PredictRequest>,
) -> Result<Json<Value>, ApiError> {
    if req.raw_scores {
        return Err(ApiError::invalid("`raw_scores: true` is not available; scores are probabilities"));
    }
    let single = matches!(req.inputs, PredictInputs::One(_));
    let (rows, _) = encode(&state, EncoderKind::Classifier, req.inputs.into_vec(), req.truncate).await?;
    let labels: &[String] = match &state.backend {
        Backend::Encoder { front, .. } => &front.labels,
        Backend::Decoder { .. } => &[],
    };
    let label = |i: usize| labels.get(i).cloned().unwrap_or_else(|| format!("LABEL_{i}"));
    let ranked: Vec<Value> = rows
        .iter()
        .map(|probs| {
            let mut order: Vec<usize> = (0..probs.len()).collect();
            order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
            Value::Array(order.into_iter().map(|i| json!({"label": label(i), "score": probs[i]})).collect())
        })
        .collect();
    Ok(Json(if single { ranked.into_iter().next().unwrap_or(Value::Null) } else { Value::Array(ranked) }))
}

/// Checks `texts` against the limits, queues them and waits for their
/// rows; also returns the tokens read.
async fn encode(
    state: &AppState,
    want: EncoderKind,
    texts: Vec<TextInput>,
    truncate: bool,
) -> Result<(Vec<Vec<f32>>, usize), ApiError> {
    let Backend::Encoder { queue, front } = &state.backend else {
        return Err(wrong_route(want, "a decoder: use /v1/chat/completions or /v1/completions"));
    };
    if front.kind != want {
        let other = match front.kind {
            EncoderKind::Embedding => "a sentence embedder: use /embed or /v1/embeddings",
            EncoderKind::Classifier => "a classifier: use /predict",
        };
        return Err(wrong_route(want, other));
    }
    if texts.is_empty() {
        return Err(ApiError::invalid("`inputs` is empty: give at least one text"));
    }
    let max_inputs = state.limits.max_client_batch_size;
    if texts.len() > max_inputs {
        return Err(ApiError::over_limit(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_many_inputs",
            "max_client_batch_size",
            max_inputs as u64,
            texts.len() as u64,
            format!("{} inputs in one request; at most {max_inputs} (--max-client-batch-size)", texts.len()),
        ));
    }
    let max_tokens = front.max_input_tokens;
    let mut tokens = Vec::with_capacity(texts.len());
    for (i, text) in texts.iter().enumerate() {
        let n = front.count_tokens(text).map_err(ApiError::invalid)?;
        if n > max_tokens && !truncate {
            return Err(ApiError::over_limit(
                StatusCode::PAYLOAD_TOO_LARGE,
                "input_too_long",
                "max_input_tokens",
                max_tokens as u64,
                n as u64,
                format!(
                    "input {i} has {n} tokens; the model reads at most {max_tokens}: shorten it or send \
                     `truncate: true`"
                ),
            ));
        }
        tokens.push(n.min(max_tokens));
    }
    let total = tokens.iter().sum();
    let (reply, answer) = oneshot::channel();
    queue.submit(EncodeJob { texts, tokens, reply })?;
    let rows = answer.await.map_err(|_| ApiError::unavailable("the model thread stopped"))??;
    Ok((rows, total))
}

fn wrong_route(want: EncoderKind, this: &str) -> ApiError {
    let route = match want {
        EncoderKind::Embedding => "embeddings",
        EncoderKind::Classifier => "classification",
    };
    ApiError::new(StatusCode::NOT_FOUND, "wrong_model_kind", format!("no {route} here: this server runs {this}"))
}
