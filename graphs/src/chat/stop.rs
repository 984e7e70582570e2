//! The tokens that end an assistant's turn: the checkpoint's EOS ids plus
//! the end-of-turn special tokens chat templates write (llama.cpp's
//! "end of generation" list), when the tokenizer has them as special tokens.

use tokenizers::Tokenizer;

/// Special tokens templates close a turn with (ChatML, Llama 3, Phi-3,
/// Gemma, GPT-2-style end of text).
const END_OF_TURN: &[&str] = &["<|im_end|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>"];

/// `eos_ids` followed by the ids of the end-of-turn tokens above that are
/// special (added) tokens of `tokenizer`, without repeats.
pub fn end_of_turn_ids(tokenizer: &Tokenizer, eos_ids: &[i64]) -> Vec<i64> {
    let mut ids: Vec<i64> = eos_ids.to_vec();
    let added = tokenizer.get_added_tokens_decoder();
    let mut special: Vec<(u32, &str)> = added
        .iter()
        .filter(|(_, t)| t.special && END_OF_TURN.contains(&t.content.as_str()))
        .map(|(&id, t)| (id, t.content.as_str()))
        .collect();
    special.sort();
    for (id, _) in special {
        if !ids.contains(&(id as i64)) {
            ids.push(id as i64);
        }
    }
    ids
}
