//! The tokenizer built from a GGUF file's metadata against HF transformers'
//! GGUF loader on the same file: SmolLM2's byte-level BPE
//! (tests/fixtures/gguf/generate_tokenizer.py): unicode, code, runs of
//! whitespace, emoji, literal special-token text and the chat template's
//! output give the same ids; decoding gives the text back.

use std::path::Path;
use wgraph::Weights;
use wgraph_models::gguf_tokenizer::tokenizer_from_gguf;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/gguf").join(name)
}

#[test]
fn smollm2_ids_equal_hfs() {
    let weights = Weights::open([fixture("smollm2_tokenizer.gguf")]).unwrap();
    let tokenizer = tokenizer_from_gguf(weights.gguf().unwrap()).unwrap();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("smollm2_tokenizer.json")).unwrap()).unwrap();
    let ids = |v: &serde_json::Value| -> Vec<u32> {
        v.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect()
    };
    let texts = reference["texts"].as_object().unwrap();
    assert!(texts.len() >= 8);
    for (text, want) in texts {
        let got = tokenizer.encode(text.as_str(), true).unwrap();
        assert_eq!(got.get_ids(), ids(want).as_slice(), "{text:?}");
        let back = tokenizer.decode(got.get_ids(), false).unwrap();
        assert_eq!(&back, text, "decoded again");
    }
    let chat = reference["chat_text"].as_str().unwrap();
    assert!(chat.contains("<|im_start|>user\nWhat is the capital of France?<|im_end|>"), "{chat}");
    let got = tokenizer.encode(chat, true).unwrap();
    assert_eq!(got.get_ids(), ids(&reference["chat_ids"]).as_slice(), "the chat-templated prompt");
}

#[test]
fn a_file_without_merges_is_refused_by_name() {
    let weights = Weights::open([fixture("tiny_llama_f32.gguf")]).unwrap();
    let e = tokenizer_from_gguf(weights.gguf().unwrap()).unwrap_err();
    assert_eq!(e, "no `tokenizer.ggml.merges` array");
}
