//! The reversal transformer as a wgraph graph.

use super::{Bug, ReversalConfig};
use crate::attention::{merge_heads, split_heads};
use crate::nn::{self, Activation};
use wgraph::autodiff::cross_entropy;
use wgraph::graph::{ops, Scope};
use wgraph::{DType, Dim, Graph, Value};

/// The built graph: inputs `tokens` and `targets` (i64 `[batch, seq_len]`),
/// outputs `logits` and `predictions`, and the loss value to train.
pub struct ReversalGraph {
    pub graph: Graph,
    pub loss: Value,
    /// The weights the optimizer gets (all but the token embedding under
    /// [`Bug::FrozenEmbedding`]).
    pub params: Vec<Value>,
}

/// Builds the model for `cfg` (its bug included).
pub fn build(cfg: &ReversalConfig) -> ReversalGraph {
    let g = Graph::new("reversal");
    let batch = Dim::sym("batch");
    let tokens = g.input("tokens", DType::I64, [batch.clone(), cfg.seq_len.into()]);
    let targets = g.input("targets", DType::I64, [batch, cfg.seq_len.into()]);
    let root = Scope::new(&g, "");
    let d = cfg.d_model;
    let tok = nn::embedding(&root.pp("tok_emb"), &tokens, cfg.vocab, d);
    let pos_table = root.pp("pos_emb").weight("weight", [cfg.seq_len, d]);
    let x = if cfg.bug == Some(Bug::NoPositions) {
        // Built and named, never added: the classic forgotten line.
        let _positions = root.pp("pos_emb").name(ops::unsqueeze(&pos_table, 0));
        tok
    } else {
        &tok + &ops::unsqueeze(&pos_table, 0)
    };
    // The embedded inputs: what the doctor's dependency probe differentiates by.
    let mut x = root.pp("embeddings").name(x);
    for i in 0..cfg.layers {
        x = encoder_layer(&root.pp(format!("layers.{i}")), &x, cfg);
    }
    let x = nn::layer_norm(&root.pp("ln_f"), &x, d, 1e-5);
    let logits = nn::linear(&root.pp("head"), &x, d, cfg.vocab, true);
    let loss = cross_entropy(&logits, &targets, None);
    let predictions = ops::argmax(&logits, -1, false);
    // Predictions only: evaluation reads back one integer per token.
    g.output_named([("predictions", &predictions)]).ok();
    let params = {
        let ir = g.ir_unchecked();
        let frozen = |name: &str| cfg.bug == Some(Bug::FrozenEmbedding) && name == "tok_emb.weight";
        ir.weights()
            .into_iter()
            .filter(|&w| !matches!(&ir.node(w).op, wgraph::graph::Op::Weight { name, .. } if frozen(name)))
            .collect::<Vec<_>>()
    };
    let params = params.into_iter().filter_map(|w| g.value(w)).collect();
    ReversalGraph { graph: g, loss, params }
}

/// Pre-LN: `x + attn(ln1(x))`, then `x + ff(ln2(x))`.
fn encoder_layer(s: &Scope, x: &Value, cfg: &ReversalConfig) -> Value {
    let d = cfg.d_model;
    let h = nn::layer_norm(&s.pp("ln1"), x, d, 1e-5);
    let x = s.pp("attn_residual").name(x + &self_attention(&s.pp("attn"), &h, cfg));
    let h = nn::layer_norm(&s.pp("ln2"), &x, d, 1e-5);
    let activation = if cfg.bug == Some(Bug::DeadRelu) { Activation::Relu } else { cfg.activation };
    let hidden = s.pp("act").name(activation.apply(&nn::linear(&s.pp("ff1"), &h, d, cfg.ff, true)));
    let ff = nn::linear(&s.pp("ff2"), &hidden, cfg.ff, d, true);
    s.name(&x + &ff)
}

/// Bidirectional multi-head self-attention (causal under [`Bug::CausalMask`]).
fn self_attention(s: &Scope, x: &Value, cfg: &ReversalConfig) -> Value {
    let (d, heads) = (cfg.d_model, cfg.heads);
    let head_dim = d / heads;
    let project = |name: &str| split_heads(&nn::linear(&s.pp(name), x, d, d, true), heads, head_dim);
    let (q, k, v) = (project("q"), project("k"), project("v"));
    let mut scores = ops::matmul(&q, &ops::transpose(&k, -1, -2)) * (head_dim as f64).powf(-0.5);
    if cfg.bug == Some(Bug::CausalMask) {
        let g = x.graph();
        let allowed = ops::causal_mask(g, cfg.seq_len, cfg.seq_len);
        scores = ops::select(&allowed, &scores, &ops::scalar(g, f32::MIN as f64, DType::F32));
    }
    let probs = s.pp("probs").name(ops::softmax(&scores, -1));
    let context = merge_heads(&ops::matmul(&probs, &v), d);
    s.name(nn::linear(&s.pp("o"), &context, d, d, true))
}
