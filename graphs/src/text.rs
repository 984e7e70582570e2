//! Text to model inputs with HF `tokenizers` (`tokenizer.json`): a padded
//! batch of `input_ids`, `attention_mask` and `token_type_ids`.

use crate::hf::ModelError;
use std::path::Path;
use tokenizers::{EncodeInput, PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};
use wgraph::graph::{Ir, Op};
use wgraph::Tensor;

/// A tokenizer that pads batches to their longest sequence.
pub struct TextEncoder {
    tokenizer: Tokenizer,
}

/// One input to an encoder: a text, or a pair of texts (a cross-encoder's
/// query and passage) that the tokenizer joins with its pair template
/// (`[CLS] a [SEP] b [SEP]`, the second text's `token_type_ids` 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextInput {
    Single(String),
    Pair(String, String),
}

impl TextInput {
    /// What the tokenizer takes.
    pub fn as_encode_input(&self) -> EncodeInput<'_> {
        match self {
            TextInput::Single(t) => t.as_str().into(),
            TextInput::Pair(a, b) => (a.as_str(), b.as_str()).into(),
        }
    }
}

/// One tokenized batch, every tensor `i64[batch, seq]`.
#[derive(Debug, Clone)]
pub struct TokenBatch {
    pub input_ids: Tensor,
    pub attention_mask: Tensor,
    pub token_type_ids: Tensor,
}

impl TextEncoder {
    /// Loads `<dir>/tokenizer.json`, padding to the longest sequence and
    /// truncating at `max_len` tokens.
    pub fn from_dir(dir: impl AsRef<Path>, max_len: usize) -> Result<TextEncoder, ModelError> {
        let path = dir.as_ref().join("tokenizer.json");
        let bytes = std::fs::read(&path).map_err(|source| ModelError::Io { path: path.clone(), source })?;
        TextEncoder::from_bytes(&bytes, &path, max_len)
    }

    /// A `tokenizer.json` already in memory (fetched by a browser page),
    /// named `path` in errors; padding and truncation as [`TextEncoder::from_dir`].
    pub fn from_bytes(bytes: &[u8], path: &Path, max_len: usize) -> Result<TextEncoder, ModelError> {
        let path = path.to_path_buf();
        let mut tokenizer = Tokenizer::from_bytes(bytes).map_err(|e| ModelError::Config {
            path: path.clone(),
            detail: format!("cannot load the tokenizer: {e}"),
        })?;
        let pad_id = tokenizer.get_padding().map(|p| p.pad_id).unwrap_or(0);
        let pad_token = tokenizer.get_padding().map(|p| p.pad_token.clone()).unwrap_or_else(|| "[PAD]".into());
        tokenizer.with_padding(Some(PaddingParams {
            strategy: PaddingStrategy::BatchLongest,
            pad_id,
            pad_token,
            ..Default::default()
        }));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: max_len, ..Default::default() }))
            .map_err(|e| ModelError::Config { path: path.clone(), detail: format!("truncation: {e}") })?;
        Ok(TextEncoder { tokenizer })
    }

    pub fn encode(&self, texts: &[&str]) -> Result<TokenBatch, ModelError> {
        self.encode_batch(texts.iter().map(|&t| t.into()).collect())
    }

    /// [`TextEncoder::encode`] for texts and pairs of texts.
    pub fn encode_inputs(&self, inputs: &[TextInput]) -> Result<TokenBatch, ModelError> {
        self.encode_batch(inputs.iter().map(TextInput::as_encode_input).collect())
    }

    fn encode_batch(&self, inputs: Vec<EncodeInput<'_>>) -> Result<TokenBatch, ModelError> {
        let err = |detail: String| ModelError::Config { path: "tokenizer.json".into(), detail };
        let rows = inputs.len();
        let encodings = self.tokenizer.encode_batch(inputs, true).map_err(|e| err(format!("tokenizing: {e}")))?;
        let seq = encodings.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let collect = |f: &dyn Fn(&tokenizers::Encoding) -> Vec<i64>| -> Result<Tensor, ModelError> {
            let data: Vec<i64> = encodings.iter().flat_map(f).collect();
            Tensor::new([rows, seq], data).map_err(|e| err(e.to_string()))
        };
        Ok(TokenBatch {
            input_ids: collect(&|e| e.get_ids().iter().map(|&v| v as i64).collect())?,
            attention_mask: collect(&|e| e.get_attention_mask().iter().map(|&v| v as i64).collect())?,
            token_type_ids: collect(&|e| e.get_type_ids().iter().map(|&v| v as i64).collect())?,
        })
    }
}

impl TokenBatch {
    /// The tensors named as the HF forward arguments.
    pub fn named(&self) -> Vec<(&'static str, Tensor)> {
        vec![
            ("input_ids", self.input_ids.clone()),
            ("attention_mask", self.attention_mask.clone()),
            ("token_type_ids", self.token_type_ids.clone()),
        ]
    }

    /// The tensors graph `ir` takes as inputs (DistilBERT takes no
    /// `token_type_ids`; feeding an input a graph lacks is an error).
    pub fn named_for(&self, ir: &Ir) -> Vec<(&'static str, Tensor)> {
        let takes = |name: &str| {
            ir.inputs().iter().any(|&id| matches!(&ir.node(id).op, Op::Input { name: n, .. } if n == name))
        };
        self.named().into_iter().filter(|(n, _)| takes(n)).collect()
    }
}

/// [`tokenizer_at`] giving each text its own ids: the padding and
/// truncation a `tokenizer.json` may configure (all-MiniLM-L6-v2 pads and
/// cuts every text to 128) turned off, so counts are the text's own.
pub fn unpadded_tokenizer_at(model: &Path) -> Result<Tokenizer, String> {
    let mut tokenizer = tokenizer_at(model)?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).map_err(|e| format!("{}: cannot turn truncation off: {e}", model.display()))?;
    Ok(tokenizer)
}

/// The tokenizer of a model: `tokenizer.json` in an HF checkpoint
/// directory, or the one a GGUF file's metadata describes. The error names
/// the file and what is missing.
pub fn tokenizer_at(model: &Path) -> Result<Tokenizer, String> {
    if model.is_file() {
        let weights = wgraph::Weights::open([model]).map_err(|e| e.to_string())?;
        let gguf = weights.gguf().ok_or_else(|| format!("{}: not a GGUF file", model.display()))?;
        crate::gguf_tokenizer::tokenizer_from_gguf(gguf).map_err(|e| format!("{}: {e}", model.display()))
    } else {
        let path = model.join("tokenizer.json");
        Tokenizer::from_file(&path).map_err(|e| format!("{}: {e}", path.display()))
    }
}
