//! `GET /health` (200 once the model is compiled, 503 before), `GET
//! /info` (the model and the limits) and `GET /metrics` (Prometheus).

use super::api_error::ApiError;
use super::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub(crate) async fn health(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    if state.status.ready.load(Ordering::SeqCst) {
        Ok(Json(json!({"status": "ok"})))
    } else {
        Err(ApiError::unavailable("the model is still loading and compiling"))
    }
}

pub(crate) async fn info(State(state): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    let info =
        state.status.info.get().ok_or_else(|| ApiError::unavailable("the model is still loading and compiling"))?;
    serde_json::to_value(info).map(Json).map_err(|e| ApiError::internal(e.to_string()))
}

pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
