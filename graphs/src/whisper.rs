//! The Whisper encoder (`model_type: whisper`), mirroring HF's
//! `WhisperEncoder`: two GELU convolutions (the second with stride 2), the
//! checkpoint's sinusoidal `embed_positions`, pre-norm layers, and the final
//! `layer_norm` that hand ports tend to forget.

use crate::attention::{attention, AttentionShape};
use crate::hf::{HfConfig, ModelError};
use crate::nn::{self, Activation};
use wgraph::graph::ops::{self, Conv1dOptions};
use wgraph::graph::Scope;
use wgraph::{DType, Dim, Gelu, Graph, Value};

/// The parts of `WhisperConfig` the encoder uses.
#[derive(Debug, Clone, PartialEq)]
pub struct WhisperEncoderConfig {
    pub num_mel_bins: usize,
    pub d_model: usize,
    pub encoder_layers: usize,
    pub encoder_attention_heads: usize,
    pub encoder_ffn_dim: usize,
    pub max_source_positions: usize,
    pub activation: Activation,
}

impl WhisperEncoderConfig {
    pub fn from_hf(cfg: &HfConfig) -> Result<WhisperEncoderConfig, ModelError> {
        let c = WhisperEncoderConfig {
            num_mel_bins: cfg.usize_or("num_mel_bins", 80)?,
            d_model: cfg.usize("d_model")?,
            encoder_layers: cfg.layers("encoder_layers")?,
            encoder_attention_heads: cfg.usize("encoder_attention_heads")?,
            encoder_ffn_dim: cfg.usize("encoder_ffn_dim")?,
            max_source_positions: cfg.usize_or("max_source_positions", 1500)?,
            activation: Activation::from_config(cfg, "activation_function", "gelu")?,
        };
        if c.encoder_attention_heads == 0 || !c.d_model.is_multiple_of(c.encoder_attention_heads) {
            return Err(cfg.invalid(format!(
                "encoder_attention_heads {} must divide d_model {}",
                c.encoder_attention_heads, c.d_model
            )));
        }
        Ok(c)
    }

    /// The input length the encoder expects: `2 * max_source_positions` frames.
    pub fn input_frames(&self) -> usize {
        2 * self.max_source_positions
    }
}

/// Builds the encoder. Input: `input_features`, `f32[batch, num_mel_bins,
/// 2 * max_source_positions]`; output: `last_hidden_state`. `prefix` is
/// `"encoder"` for `WhisperModel` checkpoints and `"model.encoder"` for
/// `WhisperForConditionalGeneration`.
pub fn build_encoder(cfg: &WhisperEncoderConfig, prefix: &str) -> Result<Graph, ModelError> {
    let g = Graph::new("WhisperEncoder");
    let features =
        g.input("input_features", DType::F32, [Dim::sym("batch"), cfg.num_mel_bins.into(), cfg.input_frames().into()]);
    let s = Scope::new(&g, prefix);
    let hidden = encoder(&s, cfg, &features);
    g.output_named([("last_hidden_state", hidden)])?;
    Ok(g)
}

fn conv(s: &Scope, x: &Value, c_in: usize, c_out: usize, stride: usize) -> Value {
    let w = s.weight("weight", [c_out, c_in, 3]);
    let b = s.weight("bias", [c_out]);
    s.name(ops::conv1d(x, &w, Some(&b), Conv1dOptions { stride, padding: 1, ..Default::default() }))
}

fn encoder(s: &Scope, cfg: &WhisperEncoderConfig, features: &Value) -> Value {
    let d = cfg.d_model;
    let x = ops::gelu(&conv(&s.pp("conv1"), features, cfg.num_mel_bins, d, 1), Gelu::Erf);
    let x = ops::gelu(&conv(&s.pp("conv2"), &x, d, d, 2), Gelu::Erf);
    let x = ops::permute(&x, &[0, 2, 1]);
    // Every position of the table is used: the input length is fixed.
    let positions = s.pp("embed_positions").weight("weight", [cfg.max_source_positions, d]);
    let mut x = &x + &positions;
    let shape = AttentionShape { dim: d, heads: cfg.encoder_attention_heads };
    let scaling = ((d / cfg.encoder_attention_heads) as f64).powf(-0.5);
    for i in 0..cfg.encoder_layers {
        let l = s.pp(format!("layers.{i}"));
        let a = l.pp("self_attn");
        let h = nn::layer_norm(&l.pp("self_attn_layer_norm"), &x, d, 1e-5);
        // HF scales the projected queries before the product.
        let q = nn::linear(&a.pp("q_proj"), &h, d, d, true) * scaling;
        let k = nn::linear(&a.pp("k_proj"), &h, d, d, false);
        let v = nn::linear(&a.pp("v_proj"), &h, d, d, true);
        let ctx = attention(&q, &k, &v, None, shape, None);
        let attn = a.name(nn::linear(&a.pp("out_proj"), &ctx, d, d, true));
        x = &x + &attn;
        let h = nn::layer_norm(&l.pp("final_layer_norm"), &x, d, 1e-5);
        let up = cfg.activation.apply(&nn::linear(&l.pp("fc1"), &h, d, cfg.encoder_ffn_dim, true));
        let down = nn::linear(&l.pp("fc2"), &up, cfg.encoder_ffn_dim, d, true);
        x = l.name(&x + &down);
    }
    nn::layer_norm(&s.pp("layer_norm"), &x, d, 1e-5)
}
