//! `gpt2` tokenizers: byte-level BPE. The token list and merges come from
//! the file; how text is split before merging depends on the vocabulary
//! (`tokenizer.ggml.pre`), and a split other than the one the merges were
//! learned with gives other ids, so an unknown pre-tokenizer is refused by
//! name rather than guessed.

use super::spec::Spec;
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{SplitDelimiterBehavior, Tokenizer};

/// Pre-tokenizers that split as GPT-2 does (the byte-level regex).
const GPT2: &[&str] = &["gpt2", "smollm", "default"];

const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2: &str =
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN35: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const TEKKEN: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*",
    r"|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
);
const GPT4O: &str = concat!(
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
);

/// `tokenizer.ggml.pre` values that split with their own regex, as HF's
/// GGUF loader lists them.
const SPLITS: &[(&str, &str)] = &[
    ("llama3", LLAMA3),
    ("llama-v3", LLAMA3),
    ("llama-bpe", LLAMA3),
    ("falcon3", LLAMA3),
    ("falcon-h1", LLAMA3),
    ("pixtral", LLAMA3),
    ("midm-2.0", LLAMA3),
    ("lfm2", LLAMA3),
    ("jina-v5-nano", LLAMA3),
    ("dbrx", LLAMA3),
    ("smaug-bpe", LLAMA3),
    ("tekken", TEKKEN),
    ("qwen2", QWEN2),
    ("deepseek-r1-qwen", QWEN2),
    ("kormo", QWEN2),
    ("f2llmv2", QWEN2),
    ("megrez", QWEN2),
    ("qwen35", QWEN35),
    ("gpt-4o", GPT4O),
    ("llama4", GPT4O),
    ("kanana2", GPT4O),
    ("talkie", GPT4O),
    ("minimax-m2", GPT4O),
];

pub(super) fn build(spec: &Spec) -> Result<Tokenizer, String> {
    let pre_tokenizer: PreTokenizerWrapper = if GPT2.contains(&spec.pre) {
        ByteLevel::new(false, true, true).into()
    } else if let Some(&(_, regex)) = SPLITS.iter().find(|(name, _)| *name == spec.pre) {
        let split = Split::new(SplitPattern::Regex(regex.into()), SplitDelimiterBehavior::Isolated, false)
            .map_err(|e| format!("pre-tokenizer `{}`: {e}", spec.pre))?;
        Sequence::new(vec![split.into(), ByteLevel::new(false, true, false).into()]).into()
    } else {
        let mut known: Vec<&str> = GPT2.iter().chain(SPLITS.iter().map(|(n, _)| n)).copied().collect();
        known.sort_unstable();
        return Err(format!("pre-tokenizer `{}` is not supported (supported: {})", spec.pre, known.join(", ")));
    };
    let spelling = spelling();
    // A token outside the byte alphabet (a mislabelled added token) is
    // spelled byte by byte, as HF's loader does.
    let respell = |t: &str| -> String {
        match t.chars().all(in_alphabet) {
            true => t.to_string(),
            false => t.bytes().map(|b| spelling[b as usize]).collect(),
        }
    };
    let vocab: Vocab = spec.tokens.iter().enumerate().map(|(i, t)| (respell(t), i as u32)).collect();
    let merges = spec.merge_pairs()?.ok_or("no `tokenizer.ggml.merges` array")?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(|e| format!("cannot build the BPE model: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(pre_tokenizer));
    tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
    Ok(tokenizer)
}

/// Whether `c` is one of the 256 characters GPT-2 spells bytes with.
pub(super) fn in_alphabet(c: char) -> bool {
    let c = c as u32;
    printable(c) || (256..256 + 68).contains(&c)
}

/// Latin-1 bytes GPT-2 spells as themselves.
fn printable(b: u32) -> bool {
    (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b)
}

/// GPT-2's spelling of bytes as characters: printable Latin-1 bytes stand
/// for themselves, the others take the code points from 256 on, in order.
fn spelling() -> Vec<char> {
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
