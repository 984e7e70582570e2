//! PyTorch modules as graph fragments: each declares its weights under the
//! module's checkpoint path and names its output by that path.

use crate::hf::{HfConfig, ModelError};
use wgraph::graph::{ops, Scope};
use wgraph::{Gelu, Value};

/// `nn.Linear(in_features, out_features)`: weight `[out, in]`, optional bias.
#[track_caller]
pub fn linear(s: &Scope, x: &Value, in_features: usize, out_features: usize, bias: bool) -> Value {
    let w = s.weight("weight", [out_features, in_features]);
    let b = bias.then(|| s.weight("bias", [out_features]));
    s.name(ops::linear(x, &w, b.as_ref()))
}

/// `nn.LayerNorm(dim, eps)` with weight and bias.
#[track_caller]
pub fn layer_norm(s: &Scope, x: &Value, dim: usize, eps: f64) -> Value {
    let (g, b) = (s.weight("weight", [dim]), s.weight("bias", [dim]));
    s.name(ops::layer_norm(x, &g, &b, eps))
}

/// `nn.Embedding(num, dim)` looked up with integer `ids`.
#[track_caller]
pub fn embedding(s: &Scope, ids: &Value, num: usize, dim: usize) -> Value {
    let table = s.weight("weight", [num, dim]);
    s.name(ops::gather(&table, ids, 0))
}

/// An HF activation by its config name (`hidden_act`, `activation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Gelu(Gelu),
    Relu,
    Silu,
    Tanh,
}

impl Activation {
    pub fn from_config(cfg: &HfConfig, key: &str, default: &str) -> Result<Activation, ModelError> {
        let name = cfg.str_or(key, default)?;
        Ok(match name {
            "gelu" => Activation::Gelu(Gelu::Erf),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::Gelu(Gelu::Tanh),
            "relu" => Activation::Relu,
            "silu" | "swish" => Activation::Silu,
            "tanh" => Activation::Tanh,
            other => return Err(cfg.invalid(format!("`{key}` = `{other}` is not a supported activation"))),
        })
    }

    #[track_caller]
    pub fn apply(self, x: &Value) -> Value {
        match self {
            Activation::Gelu(form) => ops::gelu(x, form),
            Activation::Relu => ops::relu(x),
            Activation::Silu => ops::silu(x),
            Activation::Tanh => ops::tanh(x),
        }
    }
}
