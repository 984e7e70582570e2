//! Text of a generation as its tokens come: byte-level tokenizers split a
//! multi-byte character across tokens, so each new piece is the decoded
//! text's growth, held back while it ends in an incomplete character.

use tokenizers::Tokenizer;

/// Decodes a growing list of token ids into new text, piece by piece.
pub struct TextStream<'t> {
    tokenizer: &'t Tokenizer,
    ids: Vec<u32>,
    /// Bytes of the decoded text already handed out.
    emitted: usize,
}

impl<'t> TextStream<'t> {
    pub fn new(tokenizer: &'t Tokenizer) -> TextStream<'t> {
        TextStream { tokenizer, ids: Vec::new(), emitted: 0 }
    }

    /// Adds `id`; returns the text it completes (empty while a character
    /// is still incomplete or the token is a special one). Special tokens
    /// are skipped, as HF's `decode(skip_special_tokens=True)` does.
    pub fn push(&mut self, id: i64) -> Result<String, String> {
        self.ids.push(u32::try_from(id).map_err(|_| format!("token id {id} is not a vocabulary index"))?);
        let text = self.tokenizer.decode(&self.ids, true).map_err(|e| format!("decoding: {e}"))?;
        // U+FFFD at the end: the last token ended inside a character.
        if text.ends_with('\u{FFFD}') {
            return Ok(String::new());
        }
        let piece = text.get(self.emitted..).unwrap_or_default().to_string();
        self.emitted = text.len().max(self.emitted);
        Ok(piece)
    }

    /// The whole text decoded so far (incomplete characters as U+FFFD).
    pub fn text(&self) -> Result<String, String> {
        self.tokenizer.decode(&self.ids, true).map_err(|e| format!("decoding: {e}"))
    }
}
