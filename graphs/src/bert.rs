//! BERT (`model_type: bert`), mirroring HF's `modeling_bert.py`: word,
//! token-type and learned position embeddings, post-norm encoder layers.
//! With the sentence-embedding head it reproduces sentence-transformers
//! models such as all-MiniLM-L6-v2 (mean pooling over the mask, then L2
//! normalisation).

use crate::attention::{bidirectional_mask, multi_head_attention, AttentionShape};
use crate::hf::{HfConfig, ModelError};
use crate::loss::{sequence_classification_loss, ProblemType};
use crate::nn::{self, Activation};
use wgraph::graph::{ops, Scope};
use wgraph::{DType, Dim, Graph, Value};

/// The parts of `BertConfig` the forward pass uses.
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub hidden_act: Activation,
    /// Labels by id, as HF's config has them: `id2label`, else `num_labels`
    /// (default 2) labels `LABEL_i`; the classifier's width.
    pub labels: Vec<String>,
}

impl BertConfig {
    pub fn from_hf(cfg: &HfConfig) -> Result<BertConfig, ModelError> {
        let c = BertConfig {
            vocab_size: cfg.usize("vocab_size")?,
            hidden_size: cfg.usize("hidden_size")?,
            num_hidden_layers: cfg.layers("num_hidden_layers")?,
            num_attention_heads: cfg.usize("num_attention_heads")?,
            intermediate_size: cfg.usize("intermediate_size")?,
            max_position_embeddings: cfg.usize_or("max_position_embeddings", 512)?,
            type_vocab_size: cfg.usize_or("type_vocab_size", 2)?,
            layer_norm_eps: cfg.f64_or("layer_norm_eps", 1e-12)?,
            hidden_act: Activation::from_config(cfg, "hidden_act", "gelu")?,
            labels: cfg.class_labels()?,
        };
        if c.num_attention_heads == 0 || !c.hidden_size.is_multiple_of(c.num_attention_heads) {
            return Err(cfg.invalid(format!(
                "num_attention_heads {} must divide hidden_size {}",
                c.num_attention_heads, c.hidden_size
            )));
        }
        let position = cfg.str_or("position_embedding_type", "absolute")?;
        if position != "absolute" {
            return Err(cfg.invalid(format!("position_embedding_type `{position}` is not supported (only `absolute`)")));
        }
        Ok(c)
    }
}

/// What the graph outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BertHead {
    /// `BertModel`: `last_hidden_state`.
    Base,
    /// sentence-transformers: `last_hidden_state` and `sentence_embedding`
    /// (mean over unmasked tokens, L2-normalised).
    SentenceEmbedding,
    /// `BertForSequenceClassification`: the pooler (`tanh(dense(h[:, 0]))`)
    /// then `classifier`; output `logits` `[batch, num_labels]`.
    SequenceClassification,
}

/// Builds the graph. Inputs: `input_ids`, `attention_mask` and
/// `token_type_ids`, each `i64[batch, seq]`. `prefix` is the checkpoint's key
/// prefix (`""` for `BertModel`, `"bert"` inside task models).
pub fn build(cfg: &BertConfig, head: BertHead, prefix: &str) -> Result<Graph, ModelError> {
    build_graph(cfg, head, prefix, None)
}

/// `BertForSequenceClassification.forward(labels=...)` (body under
/// `bert.`): the graph of [`build`] with the sequence-classification head,
/// one more input `labels` (see [`ProblemType::labels_input`]) and one more
/// output `loss` (f32 scalar), HF's loss for `problem`.
pub fn build_with_loss(cfg: &BertConfig, problem: ProblemType) -> Result<Graph, ModelError> {
    build_graph(cfg, BertHead::SequenceClassification, "bert", Some(problem))
}

fn build_graph(cfg: &BertConfig, head: BertHead, prefix: &str, loss: Option<ProblemType>) -> Result<Graph, ModelError> {
    let g = Graph::new(match head {
        BertHead::Base => "BertModel",
        BertHead::SentenceEmbedding => "SentenceTransformer(BertModel)",
        BertHead::SequenceClassification => "BertForSequenceClassification",
    });
    let (batch, seq) = (Dim::sym("batch"), Dim::sym("seq"));
    // Learned positions: a longer sequence would read past the table (HF
    // raises); an empty one has no token 0 to pool or classify.
    let max_positions = cfg.max_position_embeddings;
    g.limit("seq", 1..=max_positions, format!("max_position_embeddings = {max_positions} in config.json"));
    let ids = g.input("input_ids", DType::I64, [batch.clone(), seq.clone()]);
    let mask = g.input("attention_mask", DType::I64, [batch.clone(), seq.clone()]);
    let types = g.input("token_type_ids", DType::I64, [batch, seq]);
    let root = Scope::new(&g, prefix);
    let hidden = encoder(&root, cfg, &ids, &mask, &types);
    match head {
        BertHead::Base => g.output_named([("last_hidden_state", hidden)])?,
        BertHead::SentenceEmbedding => {
            let pooled = mean_pool_normalized(&hidden, &mask);
            g.output_named([("last_hidden_state", hidden), ("sentence_embedding", pooled)])?;
        }
        BertHead::SequenceClassification => {
            let h = cfg.hidden_size;
            let p = root.pp("pooler");
            let cls = ops::squeeze(&ops::slice(&hidden, 1, 0, 1), 1);
            let dense = nn::linear(&p.pp("dense"), &cls, h, h, true);
            let pooled = p.name(p.pp("activation").name(ops::tanh(&dense)));
            let n = cfg.labels.len().max(1);
            let logits = nn::linear(&Scope::new(&g, "").pp("classifier"), &pooled, h, n, true);
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

/// sentence-transformers' `Pooling(mean)` then `Normalize`: the mean of the
/// unmasked token vectors (count clamped at 1e-9), divided by its L2 norm
/// (clamped at 1e-12, as `F.normalize`).
pub fn mean_pool_normalized(hidden: &Value, attention_mask: &Value) -> Value {
    let g = hidden.graph();
    let m = ops::unsqueeze(&ops::cast(attention_mask, DType::F32), -1);
    let summed = ops::sum(&(hidden * &m), 1, false);
    let count = ops::maximum(&ops::sum(&m, 1, false), &ops::scalar(g, 1e-9, DType::F32));
    let mean = &summed / &count;
    let norm = ops::sqrt(&ops::sum(&(&mean * &mean), -1, true));
    let norm = ops::maximum(&norm, &ops::scalar(g, 1e-12, DType::F32));
    &mean / &norm
}

fn encoder(s: &Scope, cfg: &BertConfig, ids: &Value, mask: &Value, types: &Value) -> Value {
    let (h, eps) = (cfg.hidden_size, cfg.layer_norm_eps);
    let e = s.pp("embeddings");
    let words = nn::embedding(&e.pp("word_embeddings"), ids, cfg.vocab_size, h);
    let token_types = nn::embedding(&e.pp("token_type_embeddings"), types, cfg.type_vocab_size, h);
    let positions = ops::range(s.graph(), 0, 1, "seq", DType::I64);
    let pos = nn::embedding(&e.pp("position_embeddings"), &positions, cfg.max_position_embeddings, h);
    // HF adds in this order: (words + token types) + positions.
    let mut x = e.name(nn::layer_norm(&e.pp("LayerNorm"), &(&(&words + &token_types) + &pos), h, eps));

    let allowed = bidirectional_mask(mask);
    let shape = AttentionShape { dim: h, heads: cfg.num_attention_heads };
    for i in 0..cfg.num_hidden_layers {
        let l = s.pp(format!("encoder.layer.{i}"));
        let a = l.pp("attention");
        let sa = a.pp("self");
        let proj = |name: &str, v: &Value| nn::linear(&sa.pp(name), v, h, h, true);
        let (q, k, v) = (proj("query", &x), proj("key", &x), proj("value", &x));
        let ctx = sa.name(multi_head_attention(&q, &k, &v, &allowed, shape));
        let o = a.pp("output");
        let attn_out = nn::linear(&o.pp("dense"), &ctx, h, h, true);
        let attn = a.name(o.name(nn::layer_norm(&o.pp("LayerNorm"), &(&attn_out + &x), h, eps)));
        let inter = l.pp("intermediate");
        let up = nn::linear(&inter.pp("dense"), &attn, h, cfg.intermediate_size, true);
        let up = inter.name(inter.pp("intermediate_act_fn").name(cfg.hidden_act.apply(&up)));
        let out = l.pp("output");
        let down = nn::linear(&out.pp("dense"), &up, cfg.intermediate_size, h, true);
        x = l.name(out.name(nn::layer_norm(&out.pp("LayerNorm"), &(&down + &attn), h, eps)));
    }
    x
}
