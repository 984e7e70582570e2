//! In a real browser (headless Chromium through chromedriver, WebGPU on
//! its SwiftShader adapter): the op table against the interpreter, MiniLM
//! against sentence-transformers, and typed errors as JS exceptions.
//! `scripts/test_web.sh` runs these with `WGRAPH_WEB_BASE` pointing at
//! the page server (scripts/serve_web.py), which serves MiniLM under
//! `/model/` and the reference under `/fixtures/`.
#![cfg(target_arch = "wasm32")]

use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;
use wgraph::debug::{check_device_async, op_table};
use wgraph::{Device, Weights};
use wgraph_web::{Classifier, Embedder};

wasm_bindgen_test_configure!(run_in_browser);

/// The page server's address, fixed when the test was built
/// (scripts/test_web.sh sets it; else the default of scripts/web.sh).
fn base() -> &'static str {
    option_env!("WGRAPH_WEB_BASE").unwrap_or("http://127.0.0.1:8000")
}

#[wasm_bindgen_test]
async fn every_op_case_matches_the_interpreter_on_webgpu() {
    let device = Device::new_async().await.expect("WebGPU adapter (Chromium needs --enable-unsafe-webgpu)");
    let report = check_device_async(&device, &[0], |_, _, _| {}).await;
    assert!(report.runs >= 2 * op_table::MIN_CASES, "{} runs", report.runs);
    let all: Vec<String> = report.failures.iter().map(ToString::to_string).collect();
    assert!(report.failures.is_empty(), "{report}\n{}", all.join("\n"));
}

#[wasm_bindgen_test]
async fn minilm_embeddings_match_sentence_transformers() {
    let reference = wgraph_web_fetch(&format!("{}/fixtures/minilm/reference.safetensors", base())).await;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&reference).unwrap();
    let sentences: Vec<String> = serde_json::from_str(&meta.metadata().as_ref().unwrap()["sentences"]).unwrap();
    let want = Weights::from_bytes("reference.safetensors", reference)
        .unwrap()
        .read("sentence_embedding")
        .unwrap()
        .to_f32_vec();
    let embedder = Embedder::from_url(format!("{}/model", base())).await.map_err(JsValue::from).unwrap();
    let dim = embedder.dim();
    let two: Vec<String> = sentences[..2].to_vec();
    let got = embedder.embed(two).await.map_err(JsValue::from).unwrap();
    assert_eq!(got.len(), 2 * dim);
    for i in 0..2 {
        let c = cosine(&got[i * dim..(i + 1) * dim], &want[i * dim..(i + 1) * dim]);
        assert!(c >= 0.9999, "sentence {i} ({:?}): cosine {c}", sentences[i]);
    }
    // The same model op by op against the interpreter, in the browser.
    let report = embedder.check(vec!["a cat".into()]).await.map_err(JsValue::from).unwrap();
    assert!(report.starts_with("GPU and interpreter agree on all "), "{report}");
}

#[wasm_bindgen_test]
async fn the_classifier_gives_hf_probabilities() {
    let dir = format!("{}/fixtures/models/distilbert_classifier", base());
    let reference = wgraph_web_fetch(&format!("{dir}/classify.safetensors")).await;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&reference).unwrap();
    let texts: Vec<String> = serde_json::from_str(&meta.metadata().as_ref().unwrap()["texts"]).unwrap();
    let probs = Weights::from_bytes("classify.safetensors", reference).unwrap().read("probs").unwrap().to_f32_vec();
    let classifier = Classifier::from_url(dir).await.map_err(JsValue::from).unwrap();
    let labels = classifier.labels();
    let rows: Vec<serde_json::Value> =
        serde_json::from_str(&classifier.classify(texts.clone()).await.map_err(JsValue::from).unwrap()).unwrap();
    assert_eq!(rows.len(), texts.len());
    for (i, row) in rows.iter().enumerate() {
        for (j, label) in labels.iter().enumerate() {
            let got = row["scores"][label].as_f64().unwrap();
            let want = probs[i * labels.len() + j] as f64;
            assert!((got - want).abs() < 1e-4, "text {i} label {label}: {got} vs HF {want}");
        }
    }
}

#[wasm_bindgen_test]
async fn a_broken_checkpoint_is_a_typed_error() {
    let err = Weights::from_bytes("model.safetensors", b"not a checkpoint".to_vec()).unwrap_err();
    assert!(err.to_string().contains("model.safetensors"), "{err}");
    let missing = Embedder::from_url(format!("{}/no-such-model", base())).await;
    let message = js_message(missing.err().map(JsValue::from).expect("a missing model fails"));
    assert!(message.contains("no-such-model/config.json") && message.contains("404"), "{message}");
}

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let norm = |v: &[f32]| v.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

/// An exception's message.
fn js_message(e: JsValue) -> String {
    js_sys::Reflect::get(&e, &"message".into()).ok().and_then(|m| m.as_string()).unwrap_or_else(|| format!("{e:?}"))
}

async fn wgraph_web_fetch(url: &str) -> Vec<u8> {
    use wasm_bindgen::JsCast;
    let window = web_sys::window().unwrap();
    let response: web_sys::Response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_str(url)).await.unwrap().dyn_into().unwrap();
    assert!(response.ok(), "{url}: HTTP {}", response.status());
    let buffer = wasm_bindgen_futures::JsFuture::from(response.array_buffer().unwrap()).await.unwrap();
    js_sys::Uint8Array::new(&buffer).to_vec()
}
