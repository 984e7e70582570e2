//! From a checkpoint directory to a graph: the architecture comes from
//! `config.json` (`model_type`, `architectures`).

use crate::bert::{self, BertConfig, BertHead};
use crate::distilbert::{self, DistilBertConfig, DistilBertHead};
use crate::hf::{HfConfig, ModelError};
use crate::llama::{self, LlamaConfig, LlamaGraph};
use crate::loss::ProblemType;
use crate::whisper::{self, WhisperEncoderConfig};
use std::path::Path;
use wgraph::{DType, Graph};

/// The architectures `load` understands.
pub const SUPPORTED: [&str; 4] = ["bert", "distilbert", "llama", "whisper"];

/// A graph for a checkpoint, with what a caller needs to feed and read it.
pub struct LoadedGraph {
    pub graph: Graph,
    pub config: HfConfig,
    /// Output labels by id for classifiers (`id2label`), else empty.
    pub labels: Vec<String>,
    /// The loss the graph computes (graphs from [`load_with_loss`]).
    pub loss: Option<LossKind>,
    /// Tied parameters: `(name, read as)` where the graph reads the
    /// checkpoint tensor `read as` for the parameter HF also calls `name`
    /// (`lm_head.weight` is `model.embed_tokens.weight` when
    /// `tie_word_embeddings`). A checkpoint may store either or both.
    pub tied: Vec<(String, String)>,
}

/// LLaMA's tied head, when the config ties it.
fn llama_tied(cfg: &LlamaConfig, kind: LlamaGraph) -> Vec<(String, String)> {
    match kind {
        LlamaGraph::Forward | LlamaGraph::Decode | LlamaGraph::Cached { .. } if cfg.tie_word_embeddings => {
            vec![("lm_head.weight".into(), "model.embed_tokens.weight".into())]
        }
        _ => Vec::new(),
    }
}

/// Which of HF's losses a graph built with labels computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    /// `*ForSequenceClassification`: `labels` per sequence.
    SequenceClassification(ProblemType),
    /// `*ForCausalLM`: `labels` per token, shifted inside.
    CausalLm,
}

/// The task heads [`load_with_loss`] builds a loss for.
pub const LOSS_HEADS: [&str; 3] =
    ["DistilBertForSequenceClassification", "BertForSequenceClassification", "LlamaForCausalLM"];

/// Builds the graph of the checkpoint in `dir` as HF's `forward(labels=...)`
/// computes it: the inference graph plus an input `labels` and an output
/// `loss` (f32 scalar). `labels` is the dtype of the labels that will be
/// fed; with the config's `num_labels` and `problem_type` it decides a
/// sequence classifier's loss exactly as HF does (see
/// [`ProblemType::resolve`]). Only task heads have a loss ([`LOSS_HEADS`]).
pub fn load_with_loss(dir: impl AsRef<Path>, labels: DType) -> Result<LoadedGraph, ModelError> {
    let config = HfConfig::from_dir(dir)?;
    let archs = config.architectures();
    let has = |name: &str| archs.iter().any(|a| a == name);
    let no_head = || {
        config.invalid(format!(
            "a loss needs a task head ({}); this checkpoint's architectures are {archs:?}",
            LOSS_HEADS.join(", ")
        ))
    };
    let mut tied = Vec::new();
    let (graph, labels, loss) = match config.model_type()? {
        "distilbert" if has("DistilBertForSequenceClassification") => {
            let cfg = DistilBertConfig::from_hf(&config)?;
            let problem = ProblemType::resolve(&config, cfg.labels.len(), labels)?;
            (distilbert::build_with_loss(&cfg, problem)?, cfg.labels, LossKind::SequenceClassification(problem))
        }
        "bert" if has("BertForSequenceClassification") => {
            let cfg = BertConfig::from_hf(&config)?;
            let problem = ProblemType::resolve(&config, cfg.labels.len(), labels)?;
            (bert::build_with_loss(&cfg, problem)?, cfg.labels, LossKind::SequenceClassification(problem))
        }
        "llama" if has("LlamaForCausalLM") || archs.is_empty() => {
            let cfg = LlamaConfig::from_hf(&config)?;
            tied = llama_tied(&cfg, LlamaGraph::Forward);
            (llama::build_with_loss(&cfg)?, Vec::new(), LossKind::CausalLm)
        }
        "distilbert" | "bert" | "llama" | "whisper" => return Err(no_head()),
        other => return Err(ModelError::Unsupported { model_type: other.to_string(), supported: SUPPORTED.to_vec() }),
    };
    Ok(LoadedGraph { graph, config, labels, loss: Some(loss), tied })
}

/// Builds the graph for the checkpoint in `dir`.
pub fn load(dir: impl AsRef<Path>) -> Result<LoadedGraph, ModelError> {
    from_config(HfConfig::from_dir(dir)?)
}

/// Like [`load`], from a config already read (a browser page's fetched
/// `config.json`).
pub fn from_config(config: HfConfig) -> Result<LoadedGraph, ModelError> {
    let archs = config.architectures();
    let has = |name: &str| archs.iter().any(|a| a == name);
    let mut tied = Vec::new();
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
            if has("BertForSequenceClassification") {
                let labels = cfg.labels.clone();
                (bert::build(&cfg, BertHead::SequenceClassification, "bert")?, labels)
            } else if archs.iter().any(|a| a != "BertModel") {
                return Err(config.invalid(format!(
                    "BERT architectures {archs:?} are not supported yet (only BertModel and \
                     BertForSequenceClassification)"
                )));
            } else {
                (bert::build(&cfg, BertHead::Base, "")?, Vec::new())
            }
        }
        "llama" => {
            let cfg = LlamaConfig::from_hf(&config)?;
            let kind = if has("LlamaModel") { LlamaGraph::Base } else { LlamaGraph::Forward };
            tied = llama_tied(&cfg, kind);
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
    Ok(LoadedGraph { graph, config, labels, loss: None, tied })
}
