//! The tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.*`),
//! built with the `tokenizers` crate the way HF transformers' GGUF loader
//! builds it, so ids equal HF's on the same file:
//! - `gpt2`: byte-level BPE from the token list and merges, text split by
//!   the regex the file's pre-tokenizer (`tokenizer.ggml.pre`) names
//!   ([`byte_level`]);
//! - `llama`: SentencePiece BPE with byte fallback, merges from the file or
//!   derived from the scores ([`sentencepiece`]).
//!
//! Both then get the same special tokens (control tokens, and the named
//! BOS/EOS/UNK/PAD, kept whole and special; user-defined tokens kept whole)
//! and BOS/EOS around a sequence as `tokenizer.ggml.add_bos_token` /
//! `add_eos_token` say. Where HF's loader invents a token the file lacks
//! (GPT-2's default `<|endoftext|>`), wgraph does not: its id would lie
//! past the model's vocabulary.

mod byte_level;
mod sentencepiece;
mod spec;

use serde_json::{json, Value};
use spec::{Spec, TokenType};
use tokenizers::processors::template::TemplateProcessing;
use tokenizers::{AddedToken, Tokenizer};
use wgraph::weights::gguf::GgufFile;

/// The tokenizer of `gguf`, or why the file's tokenizer is not one wgraph
/// builds (naming the model, pre-tokenizer or key).
pub fn tokenizer_from_gguf(gguf: &GgufFile) -> Result<Tokenizer, String> {
    let spec = Spec::read(gguf)?;
    let (mut tokenizer, byte_alphabet) = match spec.model {
        "gpt2" => (byte_level::build(&spec)?, true),
        "llama" => (sentencepiece::build(&spec)?, false),
        other => {
            return Err(format!(
                "tokenizer model `{other}` is not supported (supported: `gpt2` byte-level BPE, `llama` SentencePiece)"
            ))
        }
    };
    add_special_tokens(&mut tokenizer, &spec, byte_alphabet);
    add_bos_eos(&mut tokenizer, &spec)?;
    Ok(tokenizer)
}

/// Control tokens and the named BOS/EOS/UNK/PAD become special tokens,
/// user-defined ones (`<think>`) plain added tokens: either way matched
/// whole in the text. In a byte-level vocabulary a control token spelled
/// outside the byte alphabet is a converter's mislabel and is skipped, as
/// HF's loader skips it.
fn add_special_tokens(tokenizer: &mut Tokenizer, spec: &Spec, byte_alphabet: bool) {
    let spelled = |t: &str| !byte_alphabet || t.chars().all(byte_level::in_alphabet);
    let mut special: Vec<AddedToken> = spec
        .tokens_of(TokenType::Control)
        .filter(|t| spelled(t))
        .map(|t| AddedToken::from(t.to_string(), true))
        .collect();
    for id in spec.named_ids() {
        if let Some(t) = spec.tokens.get(id as usize) {
            if !special.iter().any(|s| s.content == *t) {
                special.push(AddedToken::from(t.to_string(), true));
            }
        }
    }
    tokenizer.add_special_tokens(&special);
    let user: Vec<AddedToken> =
        spec.tokens_of(TokenType::UserDefined).map(|t| AddedToken::from(t.to_string(), false)).collect();
    tokenizer.add_tokens(&user);
}

/// BOS before and EOS after every encoded sequence where the file asks.
fn add_bos_eos(tokenizer: &mut Tokenizer, spec: &Spec) -> Result<(), String> {
    let token = |flag: bool, id: Option<u32>, key: &str| -> Result<Option<(String, u32)>, String> {
        match (flag, id) {
            (false, _) => Ok(None),
            (true, None) => Err(format!("the file asks for `{key}` tokens but names no `{key}_token_id`")),
            (true, Some(id)) => spec
                .tokens
                .get(id as usize)
                .map(|t| Some((t.to_string(), id)))
                .ok_or(format!("`tokenizer.ggml.{key}_token_id` {id} is past the {} tokens", spec.tokens.len())),
        }
    };
    let bos = token(spec.add_bos, spec.bos, "bos")?;
    let eos = token(spec.add_eos, spec.eos, "eos")?;
    if bos.is_none() && eos.is_none() {
        return Ok(());
    }
    // Built from its JSON form: the template's string form splits tokens
    // at `:` and spaces, which a token's text may hold.
    let specials: Vec<_> = bos.iter().chain(eos.iter()).cloned().collect();
    let template = |seqs: &[(&str, u32)]| -> Vec<Value> {
        let mut pieces = Vec::new();
        for &(seq, type_id) in seqs {
            pieces.extend(bos.iter().map(|(t, _)| json!({"SpecialToken": {"id": t, "type_id": type_id}})));
            pieces.push(json!({"Sequence": {"id": seq, "type_id": type_id}}));
            pieces.extend(eos.iter().map(|(t, _)| json!({"SpecialToken": {"id": t, "type_id": type_id}})));
        }
        pieces
    };
    let special_tokens: serde_json::Map<String, Value> =
        specials.iter().map(|(t, id)| (t.clone(), json!({"id": t, "ids": [id], "tokens": [t]}))).collect();
    let processor: TemplateProcessing = serde_json::from_value(json!({
        "type": "TemplateProcessing",
        "single": template(&[("A", 0)]),
        "pair": template(&[("A", 0), ("B", 1)]),
        "special_tokens": special_tokens,
    }))
    .map_err(|e| format!("BOS/EOS template: {e}"))?;
    tokenizer.with_post_processor(Some(processor));
    Ok(())
}
