//! Chat prompts as HF builds them: the checkpoint's Jinja chat template
//! (`tokenizer_config.json`, `chat_template.jinja` or a GGUF file's
//! `tokenizer.chat_template`) rendered with HF's settings, and the tokens
//! that end an assistant's turn.

mod error;
mod prompter;
mod py_json;
mod source;
mod stop;
mod stream_text;
mod template;

pub use error::ChatTemplateError;
pub use prompter::ChatPrompter;
pub use source::template_at;
pub use stop::end_of_turn_ids;
pub use stream_text::TextStream;
pub use template::{ChatTemplate, Message};
