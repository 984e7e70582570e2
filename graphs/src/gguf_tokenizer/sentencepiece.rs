//! `llama` tokenizers: SentencePiece BPE as llama.cpp's converter stores
//! it (pieces spelled with `▁` for spaces, scores, byte pieces `<0x0A>`),
//! rebuilt as HF's `LlamaTokenizer`: BPE with byte fallback, `▁` prepended
//! to the first word, no normalizer.

use super::spec::Spec;
use std::collections::HashMap;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::normalizers::replace::Replace;
use tokenizers::pre_tokenizers::metaspace::{Metaspace, PrependScheme};
use tokenizers::Tokenizer;

/// Architectures whose SentencePiece vocabularies HF rebuilds differently
/// (Gemma's merge order, Phi-3's prefix space); not built here.
const OTHER_SHAPES: &[&str] = &["gemma", "gemma2", "gemma3", "phi3"];

pub(super) fn build(spec: &Spec) -> Result<Tokenizer, String> {
    if OTHER_SHAPES.contains(&spec.architecture) {
        return Err(format!(
            "the SentencePiece tokenizer of architecture `{}` is not supported (that of `llama` files is)",
            spec.architecture
        ));
    }
    let vocab: Vocab = spec.tokens.iter().enumerate().map(|(i, t)| (t.to_string(), i as u32)).collect();
    let merges = match spec.merge_pairs()? {
        Some(merges) => merges,
        None => {
            let scores = spec.scores.as_ref().ok_or("neither `tokenizer.ggml.merges` nor `tokenizer.ggml.scores`")?;
            merges_from_scores(&spec.tokens, scores, &vocab)
        }
    };
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .fuse_unk(true)
        .byte_fallback(true)
        .build()
        .map_err(|e| format!("cannot build the BPE model: {e}"))?;
    let mut tokenizer = Tokenizer::new(bpe);
    tokenizer.with_pre_tokenizer(Some(Metaspace::new('▁', PrependScheme::First, false)));
    let space = Replace::new("▁", " ").map_err(|e| format!("decoder: {e}"))?;
    tokenizer.with_decoder(Some(DecoderSequence::new(vec![
        space.into(),
        ByteFallback::default().into(),
        Fuse::default().into(),
        Strip::new(' ', 1, 0).into(),
    ])));
    Ok(tokenizer)
}

/// The merges a vocabulary with scores implies (the file lists none):
/// every way to cut a piece into two pieces of the vocabulary, best score
/// first, then longer left and right parts first; ties keep the order of
/// the vocabulary, then of the parts' ids. HF's `generate_merges`, so the
/// ids are HF's.
fn merges_from_scores(tokens: &[&str], scores: &[f64], vocab: &Vocab) -> Vec<(String, String)> {
    // One entry per distinct piece, where it first appears, with its last
    // score (a Python dict built from the lists).
    let mut order: Vec<&str> = Vec::with_capacity(tokens.len());
    let mut score_of: HashMap<&str, f64> = HashMap::with_capacity(tokens.len());
    for (t, &s) in tokens.iter().zip(scores) {
        if score_of.insert(t, s).is_none() {
            order.push(t);
        }
    }
    let mut merges: Vec<(&str, &str, f64)> = Vec::new();
    for piece in order {
        let score = score_of[piece];
        let mut local: Vec<(&str, &str, f64)> = piece
            .char_indices()
            .skip(1)
            .map(|(at, _)| piece.split_at(at))
            .filter(|(l, r)| vocab.contains_key(*l) && vocab.contains_key(*r))
            .map(|(l, r)| (l, r, score))
            .collect();
        local.sort_by_key(|(l, r, _)| (vocab[*l], vocab[*r]));
        merges.extend(local);
    }
    let chars = |s: &str| s.chars().count();
    // Stable and descending: equal keys keep their order, as Python's
    // `sorted(..., reverse=True)` keeps it.
    merges.sort_by(|a, b| {
        b.2.partial_cmp(&a.2)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(chars(b.0).cmp(&chars(a.0)))
            .then(chars(b.1).cmp(&chars(a.1)))
    });
    merges.into_iter().map(|(l, r, _)| (l.to_string(), r.to_string())).collect()
}
