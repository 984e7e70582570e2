//! Why a chat template could not be found, compiled or rendered.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ChatTemplateError {
    #[error(
        "{path}: no chat template (expected `chat_template` in tokenizer_config.json, a chat_template.jinja \
         file, or `tokenizer.chat_template` in a GGUF file's metadata)"
    )]
    Missing { path: PathBuf },
    #[error("{path}: the chat templates are named {available:?}, none `default`; wgraph renders `default`")]
    NoDefault { path: PathBuf, available: Vec<String> },
    #[error("{path}: `{key}` should be {expected}, found {found}")]
    Field { path: PathBuf, key: String, expected: &'static str, found: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("{path}: {detail}")]
    Gguf { path: PathBuf, detail: String },
    #[error("the tokenizer: {detail}")]
    Tokenizer { detail: String },
    #[error("the chat template does not compile: {detail}")]
    Syntax { detail: String },
    /// The template called `raise_exception` (HF's `TemplateError`), as
    /// templates do for conversations they refuse.
    #[error("the chat template refused the conversation: {message}")]
    Refused { message: String },
    #[error("rendering the chat template failed: {detail}")]
    Render { detail: String },
}
