//! Sequence classification in the browser (BERT and DistilBERT
//! `...ForSequenceClassification` checkpoints).

use crate::{error::js, fetch};
use std::path::Path;
use wasm_bindgen::prelude::*;
use wgraph::graph::Ir;
use wgraph::{Device, Loader, Model, Weights};
use wgraph_models::text::TextEncoder;
use wgraph_models::{zoo, HfConfig};

/// A sequence-classification checkpoint compiled for the page's GPU.
#[wasm_bindgen]
pub struct Classifier {
    device: Device,
    model: Model,
    text: TextEncoder,
    labels: Vec<String>,
    /// The graph, for the inputs it takes (DistilBERT: no `token_type_ids`).
    ir: Ir,
}

#[wasm_bindgen]
impl Classifier {
    /// Fetches `config.json`, `model.safetensors` and `tokenizer.json` from
    /// the URL `base` and compiles the model.
    #[wasm_bindgen(js_name = fromUrl)]
    pub async fn from_url(base: String) -> Result<Classifier, JsError> {
        let config = fetch::bytes(&fetch::join(&base, "config.json")).await?;
        let weights = fetch::bytes(&fetch::join(&base, "model.safetensors")).await?;
        let tokenizer = fetch::bytes(&fetch::join(&base, "tokenizer.json")).await?;
        Classifier::load(String::from_utf8_lossy(&config).into_owned(), weights, tokenizer).await
    }

    /// Compiles the model from the files' contents.
    pub async fn load(
        config_json: String,
        safetensors: Vec<u8>,
        tokenizer_json: Vec<u8>,
    ) -> Result<Classifier, JsError> {
        let hf = HfConfig::from_str(&config_json, "config.json").map_err(js)?;
        let max_positions = hf.usize_or("max_position_embeddings", 512).map_err(js)?;
        let loaded = zoo::from_config(hf).map_err(js)?;
        if loaded.labels.is_empty() {
            return Err(JsError::new(
                "config.json: `classify` needs a sequence-classification checkpoint \
                 (architectures BertForSequenceClassification or DistilBertForSequenceClassification)",
            ));
        }
        let weights = Weights::from_bytes("model.safetensors", safetensors).map_err(js)?;
        let text = TextEncoder::from_bytes(&tokenizer_json, Path::new("tokenizer.json"), max_positions).map_err(js)?;
        let device = Device::new_async().await.map_err(js)?;
        let model = Loader::new(&device).load_async(&loaded.graph, &weights).await.map_err(js)?;
        let ir = loaded.graph.ir().map_err(js)?.clone();
        Ok(Classifier { device, model, text, labels: loaded.labels, ir })
    }

    /// For each text, `{ label, score, scores: { label: probability } }`
    /// (softmax over the logits), as a JSON string.
    pub async fn classify(&self, texts: Vec<String>) -> Result<String, JsError> {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let batch = self.text.encode(&texts).map_err(js)?;
        let out = self.model.run_async(batch.named_for(&self.ir)).await.map_err(js)?;
        let logits = out.get("logits").ok_or_else(|| JsError::new("the model produced no `logits` output"))?;
        let rows: Vec<serde_json::Value> =
            logits.to_f32_vec().chunks(self.labels.len()).map(|row| self.scored(row)).collect();
        Ok(serde_json::Value::Array(rows).to_string())
    }

    /// The class labels, in the model's order.
    #[wasm_bindgen(getter)]
    pub fn labels(&self) -> Vec<String> {
        self.labels.clone()
    }

    /// The adapter the model runs on.
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        self.device.describe()
    }
}

impl Classifier {
    /// One row of logits as the best label, its probability and every label's.
    fn scored(&self, logits: &[f32]) -> serde_json::Value {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exp: Vec<f64> = logits.iter().map(|&l| ((l - max) as f64).exp()).collect();
        let total: f64 = exp.iter().sum();
        let probs: Vec<f64> = exp.iter().map(|e| e / total).collect();
        let best = (0..probs.len()).max_by(|&a, &b| probs[a].total_cmp(&probs[b])).unwrap_or(0);
        let scores: serde_json::Map<String, serde_json::Value> =
            self.labels.iter().zip(&probs).map(|(l, p)| (l.clone(), (*p).into())).collect();
        serde_json::json!({ "label": self.labels.get(best), "score": probs.get(best), "scores": scores })
    }
}
