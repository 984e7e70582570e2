//! One BERT-base encoder layer, HF `BertLayer` without a mask, in both
//! libraries: q/k/v `Linear` with bias, `softmax(q k^T / sqrt(64)) v`,
//! output dense + residual + LayerNorm, intermediate dense + GELU (erf),
//! output dense + residual + LayerNorm (post-LN, eps 1e-12).

use crate::weights::{HostWeights, Lcg};
use burn::module::Module;
use burn::nn::attention::{MhaInput, MultiHeadAttention};
use burn::nn::{LayerNorm, Linear};
use burn::tensor::activation::gelu;
use burn::tensor::{Device, Tensor};
use wgraph::graph::Scope;
use wgraph::{ops, Gelu, Value};
use wgraph_models::attention::{merge_heads, split_heads};
use wgraph_models::nn;

pub const HIDDEN: usize = 768;
pub const HEADS: usize = 12;
pub const INTERMEDIATE: usize = 3072;
pub const SEQ: usize = 128;
pub const EPS: f64 = 1e-12;

/// The layer's parameters under HF's names (`attention.self.query.weight`,
/// ...), PyTorch's initialisation: `nn.Linear` uniform in +-1/sqrt(fan_in),
/// LayerNorm ones and zeros. Deterministic in `seed`.
pub fn weights(seed: u64) -> HostWeights {
    let mut rng = Lcg(seed);
    let mut w = HostWeights::default();
    let mut linear = |w: &mut HostWeights, name: &str, inp: usize, out: usize| {
        let bound = 1.0 / (inp as f32).sqrt();
        w.insert(format!("{name}.weight"), vec![out, inp], rng.vec(out * inp, bound));
        w.insert(format!("{name}.bias"), vec![out], rng.vec(out, bound));
    };
    for p in ["query", "key", "value"] {
        linear(&mut w, &format!("attention.self.{p}"), HIDDEN, HIDDEN);
    }
    linear(&mut w, "attention.output.dense", HIDDEN, HIDDEN);
    linear(&mut w, "intermediate.dense", HIDDEN, INTERMEDIATE);
    linear(&mut w, "output.dense", INTERMEDIATE, HIDDEN);
    for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
        w.insert(format!("{norm}.weight"), vec![HIDDEN], vec![1.0; HIDDEN]);
        w.insert(format!("{norm}.bias"), vec![HIDDEN], vec![0.0; HIDDEN]);
    }
    w
}

/// `[batch, SEQ, HIDDEN]` values uniform in [-1, 1), deterministic in `seed`.
pub fn activations(batch: usize, seed: u64) -> Vec<f32> {
    Lcg(seed).vec(batch * SEQ * HIDDEN, 1.0)
}

/// The layer on `x` as a wgraph graph fragment, weights named as in
/// [`weights`]; the same construction as examples/train_bench.rs's
/// `bert_layer_case`.
pub fn wgraph_layer(x: &Value) -> Value {
    let l = Scope::new(x.graph(), "");
    let sa = l.pp("attention").pp("self");
    let head_dim = HIDDEN / HEADS;
    let proj = |name: &str| split_heads(&nn::linear(&sa.pp(name), x, HIDDEN, HIDDEN, true), HEADS, head_dim);
    let (q, k, v) = (proj("query"), proj("key"), proj("value"));
    let scores = ops::matmul(&q, &ops::transpose(&k, -1, -2)) * (head_dim as f64).powf(-0.5);
    let ctx = merge_heads(&ops::matmul(&ops::softmax(&scores, -1), &v), HIDDEN);
    let o = l.pp("attention").pp("output");
    let attn_out = nn::linear(&o.pp("dense"), &ctx, HIDDEN, HIDDEN, true);
    let attn = nn::layer_norm(&o.pp("LayerNorm"), &(&attn_out + x), HIDDEN, EPS);
    let up = ops::gelu(&nn::linear(&l.pp("intermediate").pp("dense"), &attn, HIDDEN, INTERMEDIATE, true), Gelu::Erf);
    let out = l.pp("output");
    let down = nn::linear(&out.pp("dense"), &up, INTERMEDIATE, HIDDEN, true);
    nn::layer_norm(&out.pp("LayerNorm"), &(&down + &attn), HIDDEN, EPS)
}

/// The layer with burn's modules. burn's `MultiHeadAttention` is exactly
/// HF's self-attention plus its output dense (`scores / sqrt(d_k)`, plain
/// softmax, no mask given, dropout set to 0).
#[derive(Module, Debug)]
pub struct BurnBertLayer {
    attention: MultiHeadAttention,
    attention_norm: LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: LayerNorm,
}

impl BurnBertLayer {
    pub fn new(w: &HostWeights, device: &Device) -> BurnBertLayer {
        let sa = |p: &str| format!("attention.self.{p}");
        let (q, k, v) = (sa("query"), sa("key"), sa("value"));
        BurnBertLayer {
            attention: w.attention([&q, &k, &v, "attention.output.dense"], HEADS, device),
            attention_norm: w.layer_norm("attention.output.LayerNorm", EPS, device),
            intermediate: w.linear("intermediate.dense", device),
            output: w.linear("output.dense", device),
            output_norm: w.layer_norm("output.LayerNorm", EPS, device),
        }
    }

    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let context = self.attention.forward(MhaInput::self_attn(x.clone())).context;
        let attn = self.attention_norm.forward(context + x);
        let up = gelu(self.intermediate.forward(attn.clone()));
        self.output_norm.forward(self.output.forward(up) + attn)
    }
}
