//! Where a checkpoint keeps its chat template and special tokens: an HF
//! directory's `chat_template.jinja` or `tokenizer_config.json`
//! (`chat_template` as a string or as a list of named templates, of which
//! HF uses `default`), or a GGUF file's `tokenizer.chat_template`.

use super::error::ChatTemplateError;
use super::template::ChatTemplate;
use serde_json::Value;
use std::path::{Path, PathBuf};
use wgraph::weights::gguf::{GgufFile, MetaValue};

/// The chat template of the model at `model` (an HF checkpoint directory
/// or a `.gguf` file), compiled, with its BOS and EOS token strings.
pub fn template_at(model: &Path) -> Result<ChatTemplate, ChatTemplateError> {
    if model.is_file() {
        let weights = wgraph::Weights::open([model])
            .map_err(|e| ChatTemplateError::Gguf { path: model.into(), detail: e.to_string() })?;
        let gguf = weights
            .gguf()
            .ok_or_else(|| ChatTemplateError::Gguf { path: model.into(), detail: "not a GGUF file".into() })?;
        from_gguf(model, gguf)
    } else {
        from_hf_dir(model)
    }
}

/// A template from GGUF metadata; BOS and EOS are the tokens their ids name.
fn from_gguf(path: &Path, gguf: &GgufFile) -> Result<ChatTemplate, ChatTemplateError> {
    let source = match gguf.get("tokenizer.chat_template") {
        None => return Err(ChatTemplateError::Missing { path: path.into() }),
        Some(v) => v.as_str().ok_or_else(|| ChatTemplateError::Field {
            path: path.into(),
            key: "tokenizer.chat_template".into(),
            expected: "a string",
            found: v.type_name(),
        })?,
    };
    let tokens = gguf.get("tokenizer.ggml.tokens").and_then(MetaValue::as_array).unwrap_or_default();
    let token = |key: &str| -> String {
        let id = gguf.get(key).and_then(MetaValue::as_u64);
        id.and_then(|i| tokens.get(i as usize)).and_then(MetaValue::as_str).unwrap_or_default().to_string()
    };
    ChatTemplate::new(source, token("tokenizer.ggml.bos_token_id"), token("tokenizer.ggml.eos_token_id"))
}

/// A template from an HF directory: `chat_template.jinja` wins over
/// `tokenizer_config.json`, as in HF's loader.
fn from_hf_dir(dir: &Path) -> Result<ChatTemplate, ChatTemplateError> {
    let config_path = dir.join("tokenizer_config.json");
    let config = if config_path.is_file() { read_json(&config_path)? } else { Value::Null };
    let jinja = dir.join("chat_template.jinja");
    let source = if jinja.is_file() {
        std::fs::read_to_string(&jinja).map_err(|source| ChatTemplateError::Io { path: jinja, source })?
    } else {
        template_in_config(&config_path, config.get("chat_template"))?
    };
    let special = |key: &str| -> Result<String, ChatTemplateError> {
        match config.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            // An AddedToken written out: {"content": "<s>", "lstrip": false, ...}.
            Some(v) => {
                v.get("content").and_then(Value::as_str).map(str::to_string).ok_or_else(|| ChatTemplateError::Field {
                    path: config_path.clone(),
                    key: key.into(),
                    expected: "a string or an object with `content`",
                    found: v.to_string(),
                })
            }
        }
    };
    ChatTemplate::new(source, special("bos_token")?, special("eos_token")?)
}

/// `chat_template` as HF accepts it: a string, or `[{"name", "template"}]`
/// of which `default` is used.
fn template_in_config(path: &Path, value: Option<&Value>) -> Result<String, ChatTemplateError> {
    let field = |found: &Value| ChatTemplateError::Field {
        path: path.into(),
        key: "chat_template".into(),
        expected: "a string or a list of {\"name\", \"template\"}",
        found: found.to_string(),
    };
    match value {
        None | Some(Value::Null) => Err(ChatTemplateError::Missing { path: missing_path(path) }),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(items)) => {
            let mut names = Vec::new();
            for item in items {
                let name = item.get("name").and_then(Value::as_str).ok_or_else(|| field(item))?;
                let template = item.get("template").and_then(Value::as_str).ok_or_else(|| field(item))?;
                if name == "default" {
                    return Ok(template.to_string());
                }
                names.push(name.to_string());
            }
            Err(ChatTemplateError::NoDefault { path: path.into(), available: names })
        }
        Some(other) => Err(field(other)),
    }
}

/// The directory when its tokenizer_config.json is absent, else the file.
fn missing_path(config: &Path) -> PathBuf {
    if config.is_file() {
        config.into()
    } else {
        config.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

fn read_json(path: &Path) -> Result<Value, ChatTemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| ChatTemplateError::Io { path: path.into(), source })?;
    serde_json::from_str(&text).map_err(|source| ChatTemplateError::Json { path: path.into(), source })
}
