//! The sequence-reversal task: random token sequences, the target is the
//! sequence reversed. A small transformer encoder (token and learned
//! positional embeddings, pre-LN layers with bidirectional multi-head
//! self-attention and a feed-forward block, a final layer norm, an output
//! projection) learns it to 100% when it is built right, and stays near 0%
//! exact-sequence accuracy with any of the classic porting bugs ([`Bug`]),
//! which the training doctor names.
//!
//! Parameter names follow the PyTorch twin in tools/reversal_torch.py
//! (`tok_emb.weight`, `layers.0.attn.q.weight`, ...), so its initial
//! weights and batches can be exported and trained by both.

mod bugs;
mod data;
pub mod export;
mod init;
mod model;
mod run;

pub use bugs::Bug;
pub use data::{Batch, TaskData};
pub use export::Export;
pub use init::initial_weights;
pub use model::{build, ReversalGraph};
pub use run::{diagnose, doctor_options, exact_accuracy, prepare, recipe, train, RunReport, StepReport, TrainOptions};

use crate::nn::Activation;

/// The model and task sizes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReversalConfig {
    /// Tokens per sequence.
    pub seq_len: usize,
    /// Distinct tokens.
    pub vocab: usize,
    pub d_model: usize,
    pub layers: usize,
    pub heads: usize,
    /// Feed-forward width.
    pub ff: usize,
    pub activation: Activation,
    /// A deliberate mistake to build in (the doctor's bug zoo), or none.
    pub bug: Option<Bug>,
}

impl ReversalConfig {
    /// The defaults that learn the task for any seed, sequence length 6-16
    /// and vocabulary 8-32: d_model 64, 2 layers, 4 heads, feed-forward 128, GELU.
    pub fn new(seq_len: usize, vocab: usize) -> ReversalConfig {
        ReversalConfig {
            seq_len,
            vocab,
            d_model: 64,
            layers: 2,
            heads: 4,
            ff: 128,
            activation: Activation::Gelu(wgraph::Gelu::Erf),
            bug: None,
        }
    }

    /// Checks the sizes fit together, naming the flag to change.
    pub fn validate(&self) -> Result<(), String> {
        if self.seq_len < 2 {
            return Err(format!("--seq-len {} is too short: reversal needs at least 2 tokens", self.seq_len));
        }
        if self.vocab < 2 {
            return Err(format!("--vocab {} leaves nothing to learn: use at least 2 tokens", self.vocab));
        }
        if self.heads == 0 || !self.d_model.is_multiple_of(self.heads) {
            return Err(format!("--d-model {} is not divisible by --heads {}", self.d_model, self.heads));
        }
        if self.layers == 0 || self.ff == 0 {
            return Err("--layers and the feed-forward width must be at least 1".into());
        }
        Ok(())
    }
}
