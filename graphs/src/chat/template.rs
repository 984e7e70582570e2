//! A compiled chat template and its rendering with HF's settings
//! (`transformers.utils.chat_template_utils._compile_jinja_template`):
//! `trim_blocks` and `lstrip_blocks` on, loop controls, `raise_exception`,
//! HF's `tojson`, Python's string methods, and the special tokens as
//! variables.

use super::error::ChatTemplateError;
use super::py_json;
use minijinja::value::Kwargs;
use minijinja::{Environment, ErrorKind, Value};
use serde::{Deserialize, Serialize};

/// One turn of a conversation, as OpenAI's and HF's `messages` hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: impl Into<String>, content: impl Into<String>) -> Message {
        Message { role: role.into(), content: content.into() }
    }
}

const NAME: &str = "chat_template";
/// Marks errors that come from the template's own `raise_exception`.
const RAISED: &str = "raise_exception: ";

/// A chat template compiled once, rendered for any conversation.
pub struct ChatTemplate {
    env: Environment<'static>,
    source: String,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").field("source", &self.source).field("bos_token", &self.bos_token).finish()
    }
}

impl ChatTemplate {
    /// Compiles `source`; `bos_token` and `eos_token` are the strings the
    /// template sees under those names.
    pub fn new(
        source: impl Into<String>,
        bos_token: impl Into<String>,
        eos_token: impl Into<String>,
    ) -> Result<ChatTemplate, ChatTemplateError> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_filter("tojson", tojson);
        let source = source.into();
        env.add_template_owned(NAME, source.clone()).map_err(|e| ChatTemplateError::Syntax { detail: describe(&e) })?;
        Ok(ChatTemplate { env, source, bos_token: bos_token.into(), eos_token: eos_token.into() })
    }

    /// The template's text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// HF's `apply_chat_template(messages, tokenize=False,
    /// add_generation_prompt=...)`: the prompt text, special tokens
    /// spelled out (tokenize it without adding special tokens).
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String, ChatTemplateError> {
        let template = self.env.get_template(NAME).map_err(|e| ChatTemplateError::Render { detail: describe(&e) })?;
        let context = minijinja::context! {
            messages => Value::from_serialize(messages),
            add_generation_prompt => add_generation_prompt,
            bos_token => self.bos_token.as_str(),
            eos_token => self.eos_token.as_str(),
        };
        template.render(context).map_err(|e| match e.detail() {
            Some(d) if e.kind() == ErrorKind::InvalidOperation && d.starts_with(RAISED) => {
                ChatTemplateError::Refused { message: d[RAISED.len()..].to_string() }
            }
            _ => ChatTemplateError::Render { detail: describe(&e) },
        })
    }
}

/// HF's `raise_exception(message)`: the template refuses the conversation.
fn raise_exception(message: String) -> Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, format!("{RAISED}{message}")))
}

/// HF's `tojson(x, ensure_ascii=False, indent=None)`.
fn tojson(value: Value, kwargs: Kwargs) -> Result<Value, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let json = serde_json::to_value(&value)
        .map_err(|e| minijinja::Error::new(ErrorKind::InvalidOperation, format!("tojson: {e}")))?;
    // The result is inserted as is, as HF's environment does not autoescape.
    Ok(Value::from_safe_string(py_json::dumps(&json, indent)))
}

/// The error and, when the template says where, the line.
fn describe(e: &minijinja::Error) -> String {
    match e.line() {
        Some(line) => format!("{e} (template line {line})"),
        None => e.to_string(),
    }
}
