//! One set of parameters for both libraries. Weights live on the host in
//! PyTorch's layout (`nn.Linear` weight `[out, in]`, HF-style names) and
//! are handed to wgraph as they are and to burn's modules converted, so
//! both start from identical values and their outputs and losses can be
//! compared number for number.

use burn::module::Param;
use burn::nn::attention::{MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};

/// Named f32 parameters with their shapes.
#[derive(Debug, Clone, Default)]
pub struct HostWeights {
    entries: Vec<(String, Vec<usize>, Vec<f32>)>,
}

impl HostWeights {
    pub fn insert(&mut self, name: impl Into<String>, shape: Vec<usize>, values: Vec<f32>) {
        self.entries.push((name.into(), shape, values));
    }

    /// Weights as wgraph's reversal builder made them (`initial_weights`).
    pub fn from_wgraph(tensors: &[(String, wgraph::Tensor)]) -> HostWeights {
        let entries = tensors.iter().map(|(n, t)| (n.clone(), t.shape().to_vec(), t.to_f32_vec())).collect();
        HostWeights { entries }
    }

    /// The same values as wgraph weights.
    pub fn to_wgraph(&self) -> wgraph::Weights {
        wgraph::Weights::from_tensors(self.entries.iter().map(|(name, shape, values)| {
            let t = wgraph::Tensor::new(shape.clone(), values.clone())
                .unwrap_or_else(|e| panic!("weight {name}: values do not fit shape {shape:?}: {e}"));
            (name.clone(), t)
        }))
    }

    /// The shape and values of `name`. A missing name is a bug of this
    /// benchmark (the two model definitions disagree), not an environment
    /// failure: it panics naming the weight.
    fn get(&self, name: &str) -> (&[usize], &[f32]) {
        self.entries
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, s, v)| (s.as_slice(), v.as_slice()))
            .unwrap_or_else(|| panic!("no weight named {name}"))
    }

    /// A burn parameter holding `name` as it is.
    pub fn param<const D: usize>(&self, name: &str, device: &Device) -> Param<Tensor<D>> {
        let (shape, values) = self.get(name);
        Param::from_data(TensorData::new(values.to_vec(), shape.to_vec()), device)
    }

    /// `nn.Linear` at `prefix` (`prefix.weight` `[out, in]`, `prefix.bias`)
    /// as burn's `Linear`, whose weight is stored `[in, out]`.
    pub fn linear(&self, prefix: &str, device: &Device) -> Linear {
        let (shape, values) = self.get(&format!("{prefix}.weight"));
        let (out, inp) = (shape[0], shape[1]);
        let mut transposed = vec![0.0f32; values.len()];
        for o in 0..out {
            for i in 0..inp {
                transposed[i * out + o] = values[o * inp + i];
            }
        }
        let mut linear = LinearConfig::new(inp, out).init(device);
        linear.weight = Param::from_data(TensorData::new(transposed, [inp, out]), device);
        linear.bias = Some(self.param(&format!("{prefix}.bias"), device));
        linear
    }

    /// `nn.LayerNorm(dim, eps)` at `prefix` (`weight`, `bias`).
    pub fn layer_norm(&self, prefix: &str, eps: f64, device: &Device) -> LayerNorm {
        let (shape, _) = self.get(&format!("{prefix}.weight"));
        let mut norm = LayerNormConfig::new(shape[0]).with_epsilon(eps).init(device);
        norm.gamma = self.param(&format!("{prefix}.weight"), device);
        norm.beta = Some(self.param(&format!("{prefix}.bias"), device));
        norm
    }

    /// `nn.Embedding` at `prefix` (same `[num, dim]` layout in both).
    pub fn embedding(&self, prefix: &str, device: &Device) -> Embedding {
        let (shape, _) = self.get(&format!("{prefix}.weight"));
        let mut embedding = EmbeddingConfig::new(shape[0], shape[1]).init(device);
        embedding.weight = self.param(&format!("{prefix}.weight"), device);
        embedding
    }

    /// burn's `MultiHeadAttention` from four projections with bias, named
    /// `prefixes` = query, key, value, output. Dropout is 0 (burn's
    /// default is 0.1, and it is active under autodiff): neither side drops.
    pub fn attention(&self, prefixes: [&str; 4], heads: usize, device: &Device) -> MultiHeadAttention {
        let (shape, _) = self.get(&format!("{}.weight", prefixes[0]));
        let mut mha = MultiHeadAttentionConfig::new(shape[0], heads).with_dropout(0.0).init(device);
        mha.query = self.linear(prefixes[0], device);
        mha.key = self.linear(prefixes[1], device);
        mha.value = self.linear(prefixes[2], device);
        mha.output = self.linear(prefixes[3], device);
        mha
    }
}

/// Uniform in [-1, 1), deterministic: the generator of
/// examples/train_bench.rs, so the BERT layer starts from values of the
/// same kind as wgraph's own benchmark.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn symmetric(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((self.0 >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }

    pub fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|_| self.symmetric() * scale).collect()
    }
}
