//! A decoder's chat front end: its template, its tokenizer and the ids
//! that end a turn, turning conversations into prompt ids.

use super::error::ChatTemplateError;
use super::source::template_at;
use super::stop::end_of_turn_ids;
use super::template::{ChatTemplate, Message};
use std::path::Path;
use tokenizers::Tokenizer;

/// Template, tokenizer and end-of-turn ids of one model.
pub struct ChatPrompter {
    template: ChatTemplate,
    tokenizer: Tokenizer,
    stop_ids: Vec<i64>,
}

impl ChatPrompter {
    /// Loads the template and tokenizer of `model` (an HF directory or a
    /// `.gguf` file); `eos_ids` are the config's EOS ids.
    pub fn open(model: &Path, eos_ids: &[i64]) -> Result<ChatPrompter, ChatTemplateError> {
        let template = template_at(model)?;
        let tokenizer = crate::text::tokenizer_at(model).map_err(|detail| ChatTemplateError::Tokenizer { detail })?;
        let stop_ids = end_of_turn_ids(&tokenizer, eos_ids);
        Ok(ChatPrompter { template, tokenizer, stop_ids })
    }

    /// The prompt ids of `messages` followed by the assistant's turn
    /// (the template writes the special tokens; none are added).
    pub fn prompt_ids(&self, messages: &[Message]) -> Result<Vec<i64>, ChatTemplateError> {
        let text = self.template.render(messages, true)?;
        self.encode(&text)
    }

    /// Ids of plain `text` (special-token text kept whole, none added).
    pub fn encode(&self, text: &str) -> Result<Vec<i64>, ChatTemplateError> {
        let encoding = self
            .tokenizer
            .encode(text, false)
            .map_err(|e| ChatTemplateError::Tokenizer { detail: format!("tokenizing: {e}") })?;
        Ok(encoding.get_ids().iter().map(|&i| i as i64).collect())
    }

    pub fn template(&self) -> &ChatTemplate {
        &self.template
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Ids after which the assistant's turn is over.
    pub fn stop_ids(&self) -> &[i64] {
        &self.stop_ids
    }
}
