//! Every refusal the server gives: an HTTP status and a JSON body naming
//! what was wrong and, for a limit, the limit, its value and what the
//! request had (OpenAI's error shape, which TEI's clients also read).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// A request the server refuses or could not serve.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    /// Machine-readable kind: `invalid_json`, `input_too_long`, ...
    pub(crate) code: &'static str,
    pub(crate) message: String,
    /// The limit that refused the request (`--max-body-bytes`), its value
    /// and what the request had.
    pub(crate) limit: Option<Limit>,
    /// Seconds to wait before retrying (429).
    pub(crate) retry_after: Option<u64>,
}

#[derive(Debug, Clone)]
pub(crate) struct Limit {
    pub(crate) name: &'static str,
    pub(crate) max: u64,
    pub(crate) got: u64,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), limit: None, retry_after: None }
    }

    /// A request over `name` (`max`), having `got`.
    pub(crate) fn over_limit(
        status: StatusCode,
        code: &'static str,
        name: &'static str,
        max: u64,
        got: u64,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError { limit: Some(Limit { name, max, got }), ..ApiError::new(status, code, message) }
    }

    /// 422: the JSON parsed but a field is wrong.
    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", message)
    }

    /// 500: the device or the model failed; the server goes on serving.
    pub(crate) fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "model_error", message)
    }

    /// 503: shutting down, or the model's thread is gone.
    pub(crate) fn unavailable(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    /// 429 with `Retry-After`: the queue holds `max` requests already.
    pub(crate) fn queue_full(max: usize) -> ApiError {
        let mut e = ApiError::over_limit(
            StatusCode::TOO_MANY_REQUESTS,
            "queue_full",
            "max_queued",
            max as u64,
            max as u64 + 1,
            format!("the queue is full ({max} requests waiting, --max-queued); retry later"),
        );
        e.retry_after = Some(1);
        e
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> serde_json::Value {
        let mut error = json!({"message": self.message, "type": error_type(self.status), "code": self.code});
        if let Some(l) = &self.limit {
            error["limit"] = json!(l.name);
            error["max"] = json!(l.max);
            error["got"] = json!(l.got);
        }
        json!({ "error": error })
    }
}

fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        413 | 400 | 422 => "invalid_request_error",
        429 => "rate_limit_error",
        503 => "unavailable",
        _ => "server_error",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body())).into_response();
        if let Some(secs) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
