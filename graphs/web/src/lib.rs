//! wgraph in the browser: the same graphs and kernels as on native, on the
//! page's WebGPU adapter. What a page needs, through wasm-bindgen:
//!
//! - [`Embedder`]: sentence embeddings with a sentence-transformers BERT
//!   checkpoint (all-MiniLM-L6-v2), from fetched `config.json`,
//!   `model.safetensors` and `tokenizer.json`;
//! - [`Classifier`]: BERT/DistilBERT sequence classification, the same way;
//! - [`check_device`]: the op table on the page's GPU against the CPU
//!   interpreter, naming the first op whose numbers differ.
//!
//! Errors reach JavaScript as exceptions carrying wgraph's typed message.

mod classify;
mod embed;
mod error;
mod fetch;

pub use classify::Classifier;
pub use embed::Embedder;

use wasm_bindgen::prelude::*;
use wgraph::debug::check_device_async;
use wgraph::Device;

/// The WebGPU adapter wgraph would use, as one line (name, backend, type).
#[wasm_bindgen(js_name = adapterInfo)]
pub async fn adapter_info() -> Result<String, JsError> {
    let device = Device::new_async().await.map_err(error::js)?;
    Ok(device.describe())
}

/// Runs every op case on this device against the interpreter (seed 0,
/// fused and unfused) and returns `{ adapter, runs, failures: [{case,
/// seed, fused, detail}], summary }`. `progress(case, done, total)` is
/// called before each case when given.
#[wasm_bindgen(js_name = checkDevice)]
pub async fn check_device(progress: Option<js_sys::Function>) -> Result<JsValue, JsError> {
    let device = Device::new_async().await.map_err(error::js)?;
    let report = check_device_async(&device, &[0], |case, done, total| {
        if let Some(f) = &progress {
            let _ = f.call3(&JsValue::NULL, &case.into(), &(done as u32).into(), &(total as u32).into());
        }
    })
    .await;
    let failures: Vec<serde_json::Value> = report
        .failures
        .iter()
        .map(|f| serde_json::json!({ "case": f.case, "seed": f.seed, "fused": f.fused, "detail": f.detail }))
        .collect();
    let json = serde_json::json!({
        "adapter": report.adapter,
        "runs": report.runs,
        "failures": failures,
        "summary": report.to_string(),
    });
    js_sys::JSON::parse(&json.to_string()).map_err(|_| JsError::new("the device report is not valid JSON"))
}
