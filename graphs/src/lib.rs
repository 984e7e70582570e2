//! The wgraph model zoo: graph builders that mirror HuggingFace checkpoint
//! key paths, configured from `config.json`.

pub mod attention;
#[cfg(feature = "audio")]
pub mod audio;
pub mod bert;
pub mod chat;
#[cfg(not(target_arch = "wasm32"))]
pub mod decode_slots;
pub mod distilbert;
pub mod embed;
#[cfg(not(target_arch = "wasm32"))]
pub mod generate;
pub mod gguf_config;
pub mod gguf_tokenizer;
pub mod grad;
pub mod hf;
pub mod llama;
pub mod loss;
pub mod nn;
#[cfg(not(target_arch = "wasm32"))]
pub mod reversal;
pub mod text;
pub mod whisper;
pub mod zoo;

pub use hf::{HfConfig, ModelError};
pub use wgraph::Gelu;
