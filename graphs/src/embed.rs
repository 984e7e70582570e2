//! Sentence embeddings with a sentence-transformers BERT checkpoint (such as
//! all-MiniLM-L6-v2): tokenizer, compiled graph, mean pooling and L2
//! normalisation, on the GPU.

use crate::bert::{self, BertConfig, BertHead};
use crate::hf::{HfConfig, ModelError};
#[cfg(not(target_arch = "wasm32"))]
use crate::text::TextEncoder;
use std::path::{Path, PathBuf};
use wgraph::graph::NamedTensors;
#[cfg(not(target_arch = "wasm32"))]
use wgraph::{Device, Loader, TieredModel, Weights};
use wgraph::{Graph, LoadError, RuntimeError};

/// Errors of the embedding pipeline.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmbedError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Weights(#[from] wgraph::WeightError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("the model produced no `{0}` output")]
    MissingOutput(&'static str),
}

#[cfg(not(target_arch = "wasm32"))]
pub struct SentenceEmbedder {
    text: TextEncoder,
    /// Quick kernels for the first texts where the driver compiles at
    /// first dispatch, the tuned ones once compiled (see `TieredModel`).
    model: TieredModel,
}

#[cfg(not(target_arch = "wasm32"))]
impl SentenceEmbedder {
    /// Loads the checkpoint directory (config.json, model.safetensors,
    /// tokenizer.json), checks every weight and compiles for `device`.
    pub fn open(dir: impl AsRef<Path>, device: &Device) -> Result<SentenceEmbedder, EmbedError> {
        let dir = dir.as_ref();
        let (graph, cfg) = sentence_graph(&HfConfig::from_dir(dir)?)?;
        let weights = Weights::from_dir(dir)?;
        let model = Loader::new(device).load_tiered(&graph, &weights)?;
        let text = TextEncoder::from_dir(dir, max_seq_length(dir, cfg.max_position_embeddings)?)?;
        Ok(SentenceEmbedder { text, model })
    }

    /// The compiled model (quick kernels first, see [`TieredModel`]).
    pub fn model(&self) -> &TieredModel {
        &self.model
    }

    /// One unit-length vector per text.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let batch = self.text.encode(texts)?;
        embeddings_of(&self.model.run(batch.named())?)
    }
}

/// The sentence-embedding graph of a sentence-transformers BERT
/// checkpoint's config, and the config it was built from.
pub fn sentence_graph(hf: &HfConfig) -> Result<(Graph, BertConfig), EmbedError> {
    let model_type = hf.model_type()?;
    if model_type != "bert" {
        return Err(hf
            .invalid(format!(
                "`embed` needs a sentence-transformers BERT checkpoint (model_type `bert`, such as \
                 all-MiniLM-L6-v2); this one is model_type `{model_type}`, for which wgraph has no \
                 sentence-embedding head"
            ))
            .into());
    }
    let cfg = BertConfig::from_hf(hf)?;
    let graph = bert::build(&cfg, BertHead::SentenceEmbedding, "")?;
    Ok((graph, cfg))
}

/// One unit-length vector per row of a sentence-embedding graph's outputs.
pub fn embeddings_of(outputs: &NamedTensors) -> Result<Vec<Vec<f32>>, EmbedError> {
    let e = outputs.get("sentence_embedding").ok_or(EmbedError::MissingOutput("sentence_embedding"))?;
    let dim = e.shape().get(1).copied().unwrap_or(0);
    Ok(e.to_f32_vec().chunks(dim.max(1)).map(|c| c.to_vec()).collect())
}

/// Where sentence-transformers truncates: `max_seq_length` from
/// `sentence_bert_config.json` (256 for all-MiniLM-L6-v2), else the
/// tokenizer's `model_max_length`, never past the model's positions.
pub fn max_seq_length(dir: &Path, max_positions: usize) -> Result<usize, ModelError> {
    let read = |name: &str| -> Result<Option<(PathBuf, String)>, ModelError> {
        let path = dir.join(name);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
        Ok(Some((path, text)))
    };
    let sentence_bert = read("sentence_bert_config.json")?;
    let tokenizer_config = read("tokenizer_config.json")?;
    fn borrowed(f: &Option<(PathBuf, String)>) -> Option<(PathBuf, &str)> {
        f.as_ref().map(|(p, t)| (p.clone(), t.as_str()))
    }
    max_seq_length_of(borrowed(&sentence_bert), borrowed(&tokenizer_config), max_positions)
}

/// [`max_seq_length`] from the two files' texts (each with the path its
/// errors name), where they are already in memory.
pub fn max_seq_length_of(
    sentence_bert_config: Option<(PathBuf, &str)>,
    tokenizer_config: Option<(PathBuf, &str)>,
    max_positions: usize,
) -> Result<usize, ModelError> {
    let read = |file: &Option<(PathBuf, &str)>, key: &str| -> Result<Option<usize>, ModelError> {
        let Some((path, text)) = file else { return Ok(None) };
        let path = path.clone();
        let json: serde_json::Value =
            serde_json::from_str(text).map_err(|source| ModelError::Json { path: path.clone(), source })?;
        match json.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => match v.as_u64() {
                Some(n) if n > 0 => Ok(Some(n as usize)),
                // Tokenizers without a limit store a huge float (1e30).
                _ if v.is_f64() => Ok(None),
                _ => Err(ModelError::Field {
                    path,
                    key: key.into(),
                    expected: "a positive integer",
                    found: Some(v.to_string()),
                }),
            },
        }
    };
    let limit = match read(&sentence_bert_config, "max_seq_length")? {
        Some(n) => Some(n),
        None => read(&tokenizer_config, "model_max_length")?,
    };
    Ok(limit.map_or(max_positions, |n| n.min(max_positions)))
}

/// Cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    (dot / (na * nb).max(1e-30)) as f32
}
