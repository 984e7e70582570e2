//! Sentence embeddings in the browser (all-MiniLM-L6-v2 and other
//! sentence-transformers BERT checkpoints).

use crate::{error::js, fetch};
use std::path::Path;
use wasm_bindgen::prelude::*;
use wgraph::debug::{check_against_interpreter_async, Tolerance};
use wgraph::{Device, Graph, Loader, Model, Weights};
use wgraph_models::embed::{embeddings_of, max_seq_length_of, sentence_graph};
use wgraph_models::text::TextEncoder;
use wgraph_models::HfConfig;

/// A sentence-transformers BERT checkpoint compiled for the page's GPU.
#[wasm_bindgen]
pub struct Embedder {
    device: Device,
    model: Model,
    text: TextEncoder,
    dim: usize,
    /// The graph and weights, for [`Embedder::check`].
    graph: Graph,
    weights: Weights,
}

#[wasm_bindgen]
impl Embedder {
    /// Fetches `config.json`, `model.safetensors`, `tokenizer.json` (and,
    /// when present, `sentence_bert_config.json`) from the URL `base` and
    /// compiles the model.
    #[wasm_bindgen(js_name = fromUrl)]
    pub async fn from_url(base: String) -> Result<Embedder, JsError> {
        let config = fetch::bytes(&fetch::join(&base, "config.json")).await?;
        let weights = fetch::bytes(&fetch::join(&base, "model.safetensors")).await?;
        let tokenizer = fetch::bytes(&fetch::join(&base, "tokenizer.json")).await?;
        let sentence_bert = fetch::optional_text(&fetch::join(&base, "sentence_bert_config.json")).await?;
        let tokenizer_config = fetch::optional_text(&fetch::join(&base, "tokenizer_config.json")).await?;
        let config = String::from_utf8_lossy(&config).into_owned();
        Embedder::load(config, weights, tokenizer, sentence_bert, tokenizer_config).await
    }

    /// Compiles the model from the files' contents: `config.json` text,
    /// `model.safetensors` bytes, `tokenizer.json` bytes and the optional
    /// `sentence_bert_config.json` and `tokenizer_config.json` texts (where
    /// sentence-transformers truncates).
    pub async fn load(
        config_json: String,
        safetensors: Vec<u8>,
        tokenizer_json: Vec<u8>,
        sentence_bert_config: Option<String>,
        tokenizer_config: Option<String>,
    ) -> Result<Embedder, JsError> {
        let hf = HfConfig::from_str(&config_json, "config.json").map_err(js)?;
        let (graph, cfg) = sentence_graph(&hf).map_err(js)?;
        let weights = Weights::from_bytes("model.safetensors", safetensors).map_err(js)?;
        let dim = cfg.hidden_size;
        let sentence_bert = sentence_bert_config.as_deref().map(|t| ("sentence_bert_config.json".into(), t));
        let tokenizer_config = tokenizer_config.as_deref().map(|t| ("tokenizer_config.json".into(), t));
        let max_len = max_seq_length_of(sentence_bert, tokenizer_config, cfg.max_position_embeddings).map_err(js)?;
        let text = TextEncoder::from_bytes(&tokenizer_json, Path::new("tokenizer.json"), max_len).map_err(js)?;
        let device = Device::new_async().await.map_err(js)?;
        let model = Loader::new(&device).load_async(&graph, &weights).await.map_err(js)?;
        Ok(Embedder { device, model, text, dim, graph, weights })
    }

    /// One unit-length vector per text, concatenated: `texts.length * dim` floats.
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<f32>, JsError> {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let batch = self.text.encode(&texts).map_err(js)?;
        let feed = batch.named_for(&*self.graph.ir().map_err(js)?);
        let out = self.model.run_async(feed).await.map_err(js)?;
        Ok(embeddings_of(&out).map_err(js)?.concat())
    }

    /// Runs the model on `texts` on the GPU and on the CPU interpreter, op
    /// by op, and names the first op whose GPU value differs (or says all
    /// agree): whether this device computes this model right.
    pub async fn check(&self, texts: Vec<String>) -> Result<String, JsError> {
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let batch = self.text.encode(&texts).map_err(js)?;
        let feed: Vec<(String, wgraph::Tensor)> =
            batch.named_for(&*self.graph.ir().map_err(js)?).into_iter().map(|(n, t)| (n.to_string(), t)).collect();
        let report =
            check_against_interpreter_async(&self.device, &self.graph, &self.weights, feed, Tolerance::default())
                .await
                .map_err(js)?;
        Ok(report.to_string())
    }

    /// Floats per embedding (the hidden size).
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The adapter the model runs on (name, backend, type).
    #[wasm_bindgen(getter)]
    pub fn adapter(&self) -> String {
        self.device.describe()
    }
}
