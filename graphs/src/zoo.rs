//! From a checkpoint directory to a graph: the architecture comes from
//! `config.json` (`model_type`, `architectures`).

use crate::bert::{self, BertConfig, BertHead};
use crate::distilbert::{self, DistilBertConfig, DistilBertHead};
use crate::hf::{HfConfig, ModelError};
use crate::llama::{self, LlamaConfig, LlamaGraph};
use crate::whisper::{self, WhisperEncoderConfig};
use std::path::Path;
use wgraph::Graph;

/// The architectures `load` understands.
pub const SUPPORTED: [&str; 4] = ["bert", "distilbert", "llama", "whisper"];

/// A graph for a checkpoint, with what a caller needs to feed and read it.
pub struct LoadedGraph {
    pub graph: Graph,
    pub config: HfConfig,
    /// Output labels by id for classifiers (`id2label`), else empty.
    pub labels: Vec<String>,
}

/// Builds the graph for the checkpoint in `dir`.
pub fn load(dir: impl AsRef<Path>) -> Result<LoadedGraph, ModelError> {
    let config = HfConfig::from_dir(dir)?;
    let archs = config.architectures();
    let has = |name: &str| archs.iter().any(|a| a == name);
    let (graph, labels) = match config.model_type()? {
        "distilbert" => {
            let cfg = DistilBertConfig::from_hf(&config)?;
            let head = if has("DistilBertForSequenceClassification") {
                DistilBertHead::SequenceClassification
            } else {
                DistilBertHead::Base
            };
            let labels = if head == DistilBertHead::SequenceClassification { cfg.labels.clone() } else { Vec::new() };
            (distilbert::build(&cfg, head)?, labels)
        }
        "bert" => {
            let cfg = BertConfig::from_hf(&config)?;
            if archs.iter().any(|a| a != "BertModel") {
                return Err(
                    config.invalid(format!("BERT architectures {archs:?} are not supported yet (only BertModel)"))
                );
            }
            (bert::build(&cfg, BertHead::Base, "")?, Vec::new())
        }
        "llama" => {
            let cfg = LlamaConfig::from_hf(&config)?;
            let kind = if has("LlamaModel") { LlamaGraph::Base } else { LlamaGraph::Forward };
            (llama::build(&cfg, kind)?, Vec::new())
        }
        "whisper" => {
            // The encoder of WhisperModel (`encoder.`) or of
            // WhisperForConditionalGeneration (`model.encoder.`).
            let cfg = WhisperEncoderConfig::from_hf(&config)?;
            let prefix = if has("WhisperForConditionalGeneration") { "model.encoder" } else { "encoder" };
            (whisper::build_encoder(&cfg, prefix)?, Vec::new())
        }
        other => return Err(ModelError::Unsupported { model_type: other.to_string(), supported: SUPPORTED.to_vec() }),
    };
    Ok(LoadedGraph { graph, config, labels })
}
