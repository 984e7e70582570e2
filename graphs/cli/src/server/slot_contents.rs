//! What each decoder slot's KV cache holds, so a new conversation can
//! resume after the rows it shares with the slot's previous one (the chat
//! template's system prompt, earlier turns of the same chat) instead of
//! computing them again: llama.cpp's `cache_prompt`. A request goes to the
//! free slot whose cached tokens share the longest start with its prompt;
//! free slots keep their rows through the rounds they sit out
//! (`SlotDecoder::keep_rows`).

use wgraph_models::decode_slots::{SlotDecoder, SlotInput};

/// The tokens whose rows each slot's cache holds, positions 0.. in order.
pub(crate) struct SlotContents {
    tokens: Vec<Vec<i64>>,
}

impl SlotContents {
    pub(crate) fn new(slots: usize) -> SlotContents {
        SlotContents { tokens: vec![Vec::new(); slots] }
    }

    /// The free slot (of `free`, lowest first on ties) whose tokens share
    /// the longest start with `prompt`, and how many of the prompt's
    /// tokens it can skip: all it shares but the last prompt token, whose
    /// row gives the next token. `None` when no slot is free.
    pub(crate) fn best_free(&self, free: impl Iterator<Item = usize>, prompt: &[i64]) -> Option<(usize, usize)> {
        let shared = |slot: usize| {
            let held = &self.tokens[slot];
            held.iter().zip(prompt).take_while(|(a, b)| a == b).count().min(prompt.len().saturating_sub(1))
        };
        free.map(|slot| (slot, shared(slot))).fold(None, |best, (slot, n)| match best {
            Some((_, m)) if m >= n => best,
            _ => Some((slot, n)),
        })
    }

    /// A conversation takes `slot`, keeping its first `reused` rows.
    pub(crate) fn start(&mut self, slot: usize, reused: usize) {
        self.tokens[slot].truncate(reused);
    }

    /// `tokens` were written into `slot`'s cache after the rows it holds.
    pub(crate) fn fed(&mut self, slot: usize, tokens: &[i64]) {
        self.tokens[slot].extend_from_slice(tokens);
    }

    /// `slot`'s rows are unknown (its round failed).
    pub(crate) fn forget(&mut self, slot: usize) {
        self.tokens[slot].clear();
    }

    /// Computes `tokens` (the chat template's start: its system prompt)
    /// into every slot, so that the first conversations reuse it as later
    /// ones do. Nothing is kept if the round fails or does not fit.
    pub(crate) fn seed(&mut self, decoder: &SlotDecoder, tokens: &[i64]) {
        if tokens.is_empty() || tokens.len() >= decoder.context() {
            return;
        }
        let every: Vec<SlotInput<'_>> = (0..decoder.slots()).map(|slot| SlotInput { slot, tokens, past: 0 }).collect();
        if decoder.advance(&every).is_ok() {
            for slot in 0..decoder.slots() {
                self.tokens[slot] = tokens.to_vec();
            }
        }
        self.keep_free(decoder, 0..decoder.slots());
    }

    /// Tells the decoder to keep each free slot's rows (at most one below
    /// the context, the row a free slot's placeholder takes).
    pub(crate) fn keep_free(&mut self, decoder: &SlotDecoder, free: impl Iterator<Item = usize>) {
        let most = decoder.context().saturating_sub(1);
        for slot in free {
            self.tokens[slot].truncate(most);
            if decoder.keep_rows(slot, self.tokens[slot].len()).is_err() {
                self.tokens[slot].clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_goes_where_its_start_is_cached_and_keeps_its_last_token() {
        let mut c = SlotContents::new(3);
        c.fed(1, &[1, 2, 3, 4]);
        c.fed(2, &[1, 2, 9]);
        assert_eq!(c.best_free(0..3, &[1, 2, 3, 7]), Some((1, 3)));
        // The whole prompt cached: its last token is fed again.
        assert_eq!(c.best_free(0..3, &[1, 2, 3]), Some((1, 2)));
        assert_eq!(c.best_free([0, 2].into_iter(), &[1, 2, 3, 7]), Some((2, 2)));
        assert_eq!(c.best_free([0].into_iter(), &[5, 6]), Some((0, 0)));
        assert_eq!(c.best_free(std::iter::empty(), &[5, 6]), None);
        c.start(1, 2);
        c.fed(1, &[8]);
        assert_eq!(c.best_free(1..2, &[1, 2, 8, 8]), Some((1, 3)));
        c.forget(1);
        assert_eq!(c.best_free(1..2, &[1, 2, 8, 8]), Some((1, 0)));
    }
}
