//! DistilBERT (`model_type: distilbert`), mirroring HF's `modeling_distilbert.py`:
//! learned positions, post-norm blocks, padding masked out of attention.

use crate::attention::{bidirectional_mask, multi_head_attention, AttentionShape};
use crate::hf::{HfConfig, ModelError};
use crate::loss::{sequence_classification_loss, ProblemType};
use crate::nn::{self, Activation};
use wgraph::graph::{ops, Scope};
use wgraph::{DType, Dim, Graph, Value};

/// The parts of `DistilBertConfig` the forward pass uses.
#[derive(Debug, Clone, PartialEq)]
pub struct DistilBertConfig {
    pub vocab_size: usize,
    pub dim: usize,
    pub n_layers: usize,
    pub n_heads: usize,
    pub hidden_dim: usize,
    pub max_position_embeddings: usize,
    pub activation: Activation,
    /// Labels by id, as HF's config has them: `id2label`, else `num_labels`
    /// (default 2) labels `LABEL_i`. Their count is the classifier's width.
    pub labels: Vec<String>,
}

impl DistilBertConfig {
    pub fn from_hf(cfg: &HfConfig) -> Result<DistilBertConfig, ModelError> {
        let c = DistilBertConfig {
            vocab_size: cfg.usize("vocab_size")?,
            dim: cfg.usize("dim")?,
            n_layers: cfg.layers("n_layers")?,
            n_heads: cfg.usize("n_heads")?,
            hidden_dim: cfg.usize("hidden_dim")?,
            max_position_embeddings: cfg.usize_or("max_position_embeddings", 512)?,
            activation: Activation::from_config(cfg, "activation", "gelu")?,
            labels: cfg.class_labels()?,
        };
        if c.n_heads == 0 || !c.dim.is_multiple_of(c.n_heads) {
            return Err(cfg.invalid(format!("n_heads {} must divide dim {}", c.n_heads, c.dim)));
        }
        if cfg.bool_or("sinusoidal_pos_embds", false)? {
            return Err(cfg.invalid("sinusoidal_pos_embds = true is not supported (positions must be learned)"));
        }
        Ok(c)
    }
}

/// Which HF class the checkpoint was saved from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistilBertHead {
    /// `DistilBertModel`: output `last_hidden_state`, no key prefix.
    Base,
    /// `DistilBertForSequenceClassification`: output `logits`, body under `distilbert.`.
    SequenceClassification,
}

/// Builds the graph. Inputs: `input_ids` and `attention_mask`, both
/// `i64[batch, seq]` (any integer dtype is accepted at run time).
pub fn build(cfg: &DistilBertConfig, head: DistilBertHead) -> Result<Graph, ModelError> {
    build_graph(cfg, head, None)
}

/// `DistilBertForSequenceClassification.forward(labels=...)`: the graph of
/// [`build`] with the sequence-classification head, one more input `labels`
/// (see [`ProblemType::labels_input`]) and one more output `loss` (f32
/// scalar), HF's loss for `problem`.
pub fn build_with_loss(cfg: &DistilBertConfig, problem: ProblemType) -> Result<Graph, ModelError> {
    build_graph(cfg, DistilBertHead::SequenceClassification, Some(problem))
}

fn build_graph(cfg: &DistilBertConfig, head: DistilBertHead, loss: Option<ProblemType>) -> Result<Graph, ModelError> {
    let g = Graph::new(match head {
        DistilBertHead::Base => "DistilBertModel",
        DistilBertHead::SequenceClassification => "DistilBertForSequenceClassification",
    });
    let (batch, seq) = (Dim::sym("batch"), Dim::sym("seq"));
    // Learned positions: a longer sequence would read past the table (HF
    // raises); an empty one has no token 0 to pool or classify.
    let max_positions = cfg.max_position_embeddings;
    g.limit("seq", 1..=max_positions, format!("max_position_embeddings = {max_positions} in config.json"));
    let ids = g.input("input_ids", DType::I64, [batch.clone(), seq.clone()]);
    let mask = g.input("attention_mask", DType::I64, [batch, seq]);
    let root = Scope::new(&g, if head == DistilBertHead::Base { "" } else { "distilbert" });
    let hidden = body(&root, cfg, &ids, &mask);
    match head {
        DistilBertHead::Base => g.output_named([("last_hidden_state", hidden)])?,
        DistilBertHead::SequenceClassification => {
            let top = Scope::new(&g, "");
            let cls = ops::squeeze(&ops::slice(&hidden, 1, 0, 1), 1);
            let pooled = ops::relu(&nn::linear(&top.pp("pre_classifier"), &cls, cfg.dim, cfg.dim, true));
            let n = cfg.labels.len().max(1);
            let logits = nn::linear(&top.pp("classifier"), &pooled, cfg.dim, n, true);
            g.output_named([("logits", &logits)])?;
            if let Some(problem) = loss {
                let batch = ids.dim(0).unwrap_or_else(|| Dim::new(1));
                let labels = problem.labels_input(&g, batch, n);
                let loss = sequence_classification_loss(&logits.named("logits"), &labels, problem);
                g.output_named([("loss", loss)])?;
            }
        }
    }
    Ok(g)
}

fn body(s: &Scope, cfg: &DistilBertConfig, ids: &Value, mask: &Value) -> Value {
    let e = s.pp("embeddings");
    let words = nn::embedding(&e.pp("word_embeddings"), ids, cfg.vocab_size, cfg.dim);
    let positions = ops::range(s.graph(), 0, 1, "seq", DType::I64);
    let pos = nn::embedding(&e.pp("position_embeddings"), &positions, cfg.max_position_embeddings, cfg.dim);
    let mut x = e.name(nn::layer_norm(&e.pp("LayerNorm"), &(&words + &pos), cfg.dim, 1e-12));

    let allowed = bidirectional_mask(mask);
    let shape = AttentionShape { dim: cfg.dim, heads: cfg.n_heads };
    let t = s.pp("transformer");
    for i in 0..cfg.n_layers {
        let l = t.pp(format!("layer.{i}"));
        let a = l.pp("attention");
        let proj = |name: &str, v: &Value| nn::linear(&a.pp(name), v, cfg.dim, cfg.dim, true);
        let (q, k, v) = (proj("q_lin", &x), proj("k_lin", &x), proj("v_lin", &x));
        let ctx = multi_head_attention(&q, &k, &v, &allowed, shape);
        let attn = a.name(proj("out_lin", &ctx));
        let h = nn::layer_norm(&l.pp("sa_layer_norm"), &(&attn + &x), cfg.dim, 1e-12);
        let f = l.pp("ffn");
        let up = f.pp("activation").name(cfg.activation.apply(&nn::linear(
            &f.pp("lin1"),
            &h,
            cfg.dim,
            cfg.hidden_dim,
            true,
        )));
        let ffn = f.name(nn::linear(&f.pp("lin2"), &up, cfg.hidden_dim, cfg.dim, true));
        x = l.name(nn::layer_norm(&l.pp("output_layer_norm"), &(&ffn + &h), cfg.dim, 1e-12));
    }
    x
}
