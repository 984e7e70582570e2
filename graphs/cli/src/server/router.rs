//! The routes, and what wraps every request: the API key check (all
//! routes but `/health`, which probes call) and the per-route metrics.

use super::api_error::ApiError;
use super::state::AppState;
use super::{routes_encode, routes_generate, routes_status};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;
use std::time::Instant;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/embed", post(routes_encode::embed))
        .route("/v1/embeddings", post(routes_encode::openai_embeddings))
        .route("/predict", post(routes_encode::predict))
        .route("/v1/chat/completions", post(routes_generate::chat_completions))
        .route("/v1/completions", post(routes_generate::completions))
        .route("/health", get(routes_status::health))
        .route("/info", get(routes_status::info))
        .route("/metrics", get(routes_status::metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(state.clone(), check_api_key))
        .layer(middleware::from_fn_with_state(state.clone(), count))
        .with_state(state)
}

async fn not_found(request: Request) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no route {} {}", request.method(), request.uri().path()))
}

/// `Authorization: Bearer KEY` on every route but `/health` when the server has a key.
async fn check_api_key(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let Some(key) = state.api_key.as_deref() else { return next.run(request).await };
    if request.uri().path() == "/health" {
        return next.run(request).await;
    }
    let given = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if given.and_then(|v| v.strip_prefix("Bearer ")) == Some(key) {
        return next.run(request).await;
    }
    let what = if given.is_some() { "a wrong API key" } else { "no API key" };
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_api_key",
        format!("{what}: send `Authorization: Bearer <key>` (--api-key or WGRAPH_API_KEY)"),
    )
    .into_response()
}

/// Requests by route and status, and their latency (a stream's until its headers).
async fn count(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("other", |p| p.as_str()).to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.request(&route, response.status().as_u16(), started.elapsed());
    response
}
