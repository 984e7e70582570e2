//! GGUF, the checkpoint format of llama.cpp: a header, typed key-value
//! metadata (architecture, hyperparameters, tokenizer, chat template) and
//! tensors that may be quantized in ggml's block formats.

mod error;
mod meta;
mod reader;
mod types;

pub use error::GgufError;
pub use meta::MetaValue;
pub use reader::{GgufFile, GgufTensor, DEFAULT_ALIGNMENT};
pub use types::GgmlType;
