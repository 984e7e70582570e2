//! Request bodies as JSON, read up to `--max-body-bytes`: a larger body is
//! 413, bytes that are not JSON 400, JSON of the wrong shape 422, each
//! with a JSON error body (axum's own rejections are plain text).

use super::api_error::ApiError;
use super::state::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use std::sync::Arc;

/// A request body deserialized as `T`.
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T: DeserializeOwned> FromRequest<Arc<AppState>> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &Arc<AppState>) -> Result<JsonBody<T>, ApiError> {
        let max = state.limits.max_body_bytes;
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let too_large = |got: u64| {
            ApiError::over_limit(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                "max_body_bytes",
                max as u64,
                got,
                format!("the body has {got} bytes, over the server's limit of {max} (--max-body-bytes)"),
            )
        };
        if let Some(n) = declared.filter(|&n| n > max as u64) {
            return Err(too_large(n));
        }
        let bytes = axum::body::to_bytes(req.into_body(), max)
            .await
            .map_err(|_| too_large(declared.unwrap_or(max as u64 + 1)))?;
        serde_json::from_slice(&bytes).map(JsonBody).map_err(|e| {
            use serde_json::error::Category;
            match e.classify() {
                Category::Data => ApiError::invalid(format!("the request's fields: {e}")),
                _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", format!("the body is not JSON: {e}")),
            }
        })
    }
}
