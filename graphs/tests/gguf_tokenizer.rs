//! The tokenizer built from a GGUF file's metadata against HF transformers'
//! GGUF loader on the same file: SmolLM2's byte-level BPE
//! (tests/fixtures/gguf/generate_tokenizer.py): unicode, code, runs of
//! whitespace, emoji, literal special-token text and the chat template's
//! output give the same ids; decoding gives the text back.

use std::path::Path;
use wgraph::weights::gguf::{GgufFile, MetaValue};
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

/// Vocabularies trained by generate_tokenizers.py, one per pre-tokenizer
/// split and the SentencePiece kind, against HF's loader on each file:
/// ids (BOS added as the file says) and the decoded text.
#[test]
fn every_supported_kind_gives_hfs_ids_and_text() {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tokenizers.json")).unwrap()).unwrap();
    let files = reference.as_object().unwrap();
    assert!(files.len() >= 6);
    for (file, texts) in files {
        let weights = Weights::open([fixture(file)]).unwrap();
        let tokenizer = tokenizer_from_gguf(weights.gguf().unwrap()).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (text, want) in texts.as_object().unwrap() {
            let ids: Vec<u32> = want["ids"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect();
            let got = tokenizer.encode(text.as_str(), true).unwrap();
            assert_eq!(got.get_ids(), ids.as_slice(), "{file}: {text:?}");
            let back = tokenizer.decode(got.get_ids(), false).unwrap();
            assert_eq!(back, want["decoded"].as_str().unwrap(), "{file}: decoding {text:?}");
        }
    }
}

/// `file`'s metadata with `key` set to `value` (or removed).
fn edited(file: &str, key: &str, value: Option<MetaValue>) -> GgufFile {
    let weights = Weights::open([fixture(file)]).unwrap();
    let mut gguf = weights.gguf().unwrap().clone();
    gguf.metadata.retain(|(k, _)| k != key);
    gguf.metadata.extend(value.map(|v| (key.to_string(), v)));
    gguf
}

#[test]
fn what_is_not_built_is_refused_by_name() {
    let text = |s: &str| Some(MetaValue::String(s.into()));
    let cases = [
        (
            edited("tokenizer_qwen2.gguf", "tokenizer.ggml.pre", text("deepseek-coder")),
            "pre-tokenizer `deepseek-coder`",
        ),
        (edited("tokenizer_spm_llama.gguf", "tokenizer.ggml.model", text("t5")), "tokenizer model `t5`"),
        (edited("tokenizer_spm_llama.gguf", "general.architecture", text("gemma2")), "architecture `gemma2`"),
        (
            edited("tokenizer_spm_llama.gguf", "tokenizer.ggml.scores", None),
            "neither `tokenizer.ggml.merges` nor `tokenizer.ggml.scores`",
        ),
        (
            edited("tokenizer_spm_llama.gguf", "tokenizer.ggml.bos_token_id", Some(MetaValue::U32(900))),
            "`tokenizer.ggml.bos_token_id` 900 is past the 900 tokens",
        ),
        (
            edited(
                "tokenizer_spm_llama.gguf",
                "tokenizer.ggml.token_type",
                Some(MetaValue::Array(vec![MetaValue::I32(1)])),
            ),
            "`tokenizer.ggml.token_type` has 1 entries for 900 tokens",
        ),
    ];
    for (gguf, want) in cases {
        let e = tokenizer_from_gguf(&gguf).unwrap_err();
        assert!(e.contains(want), "{e}");
    }
}
