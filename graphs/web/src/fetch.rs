//! Fetching a checkpoint's files over HTTP from the page (or a worker).

use wasm_bindgen::{JsCast, JsError, JsValue};
use wasm_bindgen_futures::JsFuture;

/// The body of `url`; an error names the URL and the HTTP status.
pub(crate) async fn bytes(url: &str) -> Result<Vec<u8>, JsError> {
    get(url).await?.ok_or_else(|| JsError::new(&format!("fetching {url}: HTTP 404 (not found)")))
}

/// The body of `url` as text, `None` when the server has no such file.
pub(crate) async fn optional_text(url: &str) -> Result<Option<String>, JsError> {
    Ok(get(url).await?.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// The body of `url`, `None` on HTTP 404.
async fn get(url: &str) -> Result<Option<Vec<u8>>, JsError> {
    let failed = |what: String| JsError::new(&format!("fetching {url}: {what}"));
    let describe = |e: JsValue| e.as_string().unwrap_or_else(|| format!("{e:?}"));
    let global = js_sys::global();
    let promise = if let Some(window) = global.dyn_ref::<web_sys::Window>() {
        window.fetch_with_str(url)
    } else if let Some(worker) = global.dyn_ref::<web_sys::WorkerGlobalScope>() {
        worker.fetch_with_str(url)
    } else {
        return Err(failed("no window or worker to fetch from".into()));
    };
    let response: web_sys::Response =
        JsFuture::from(promise).await.map_err(|e| failed(describe(e)))?.dyn_into().map_err(|e| failed(describe(e)))?;
    if response.status() == 404 {
        return Ok(None);
    }
    if !response.ok() {
        return Err(failed(format!("HTTP {} {}", response.status(), response.status_text())));
    }
    let buffer = JsFuture::from(response.array_buffer().map_err(|e| failed(describe(e)))?)
        .await
        .map_err(|e| failed(describe(e)))?;
    Ok(Some(js_sys::Uint8Array::new(&buffer).to_vec()))
}

/// `base` and `file` joined with one slash.
pub(crate) fn join(base: &str, file: &str) -> String {
    format!("{}/{file}", base.trim_end_matches('/'))
}
