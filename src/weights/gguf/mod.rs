//! GGUF, the checkpoint format of llama.cpp: a header, typed key-value
//! metadata (architecture, hyperparameters, tokenizer, chat template) and
//! tensors that may be quantized in ggml's block formats.

mod dequant;
mod dequant_k;
mod error;
mod meta;
mod names;
mod reader;
mod scalars;
mod types;

pub use dequant::{dequantize, DequantError};
pub use error::GgufError;
pub use meta::MetaValue;
pub use names::{hf_name, rotary_heads, rotary_rows};
pub use reader::{GgufFile, GgufTensor, DEFAULT_ALIGNMENT};
pub use types::GgmlType;
