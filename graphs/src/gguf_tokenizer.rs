//! The tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.*`),
//! built with the `tokenizers` crate the way HF's GGUF loader builds it:
//! byte-level BPE (`gpt2`) from the token list and merges, control tokens
//! kept whole as special tokens.

use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};
use wgraph::weights::gguf::{GgufFile, MetaValue};

/// `tokenizer.ggml.pre` values split as GPT-2 does (its byte-level regex).
const GPT2_SPLIT: &[&str] = &["gpt2", "smollm", "default"];
/// `tokenizer.ggml.token_type` of a control token (`<|im_end|>`).
const CONTROL: u64 = 3;

/// The tokenizer of `gguf`, or why the file's tokenizer is not one wgraph
/// builds (naming the model or pre-tokenizer).
pub fn tokenizer_from_gguf(gguf: &GgufFile) -> Result<Tokenizer, String> {
    let text = |key: &str| gguf.get(key).and_then(MetaValue::as_str);
    let strings = |key: &str| -> Result<Vec<&str>, String> {
        let items = gguf.get(key).and_then(MetaValue::as_array).ok_or(format!("no `{key}` array"))?;
        items.iter().map(|v| v.as_str().ok_or(format!("`{key}` holds {}, not strings", v.type_name()))).collect()
    };
    let model = text("tokenizer.ggml.model").ok_or("no `tokenizer.ggml.model`: the file carries no tokenizer")?;
    if model != "gpt2" {
        return Err(format!("tokenizer model `{model}` is not supported yet (byte-level BPE `gpt2` is)"));
    }
    let pre = text("tokenizer.ggml.pre").unwrap_or("default");
    if !GPT2_SPLIT.contains(&pre) {
        return Err(format!("pre-tokenizer `{pre}` is not supported yet (supported: {})", GPT2_SPLIT.join(", ")));
    }
    let tokens = strings("tokenizer.ggml.tokens")?;
    let spelling = byte_spelling();
    let alphabet: std::collections::HashSet<char> = spelling.iter().copied().collect();
    // A token outside the byte alphabet (a mislabelled added token) is
    // spelled byte by byte, as HF's loader does.
    let respell = |t: &str| -> String {
        if t.chars().all(|c| alphabet.contains(&c)) {
            t.to_string()
        } else {
            t.bytes().map(|b| spelling[b as usize]).collect()
        }
    };
    let vocab: Vocab = tokens.iter().enumerate().map(|(i, t)| (respell(t), i as u32)).collect();
    let merges = strings("tokenizer.ggml.merges")?
        .into_iter()
        .map(|m| {
            m.split_once(' ')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or(format!("merge `{m}` is not two tokens"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("cannot build the BPE model: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    let types = gguf.get("tokenizer.ggml.token_type").and_then(MetaValue::as_array).unwrap_or_default();
    let control: Vec<AddedToken> = tokens
        .iter()
        .zip(types)
        .filter(|(t, kind)| kind.as_u64() == Some(CONTROL) && t.chars().all(|c| alphabet.contains(&c)))
        .map(|(t, _)| AddedToken::from(t.to_string(), true))
        .collect();
    tokenizer.add_special_tokens(&control);
    Ok(tokenizer)
}

/// GPT-2's spelling of bytes as characters: printable Latin-1 bytes stand
/// for themselves, the others take the code points from 256 on, in order.
fn byte_spelling() -> Vec<char> {
    let printable = |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut next = 256;
    (0..256u32)
        .map(|b| {
            let c = if printable(b) {
                b
            } else {
                next += 1;
                next - 1
            };
            char::from_u32(c).expect("code points below 512 are characters")
        })
        .collect()
}
