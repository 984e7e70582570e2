//! `wgraph chat` as a user runs it: the checkpoint's chat template
//! applied, HF transformers' greedy answer printed (the fixture's
//! reference, graphs/tests/fixtures/serve/generate.py), and checkpoints
//! without a template or tokenizer refused by name.

#[path = "common/cli_run.rs"]
mod cli_run;
#[path = "../../tests/common/fixtures.rs"]
mod fixtures;

use cli_run::wgraph;
use fixtures::fixture;

#[test]
fn chat_prints_hfs_greedy_answer_to_the_templated_conversation() {
    let dir = fixture("serve/chat_llama");
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("chat_reference.json")).unwrap()).unwrap();
    let messages = reference["messages"].as_array().unwrap();
    let (system, user) = (messages[0]["content"].as_str().unwrap(), messages[1]["content"].as_str().unwrap());
    let n = reference["greedy_new_ids"].as_array().unwrap().len().to_string();
    let (code, out, err) = wgraph(&["chat", dir.to_str().unwrap(), user, "--system", system, "--max-new-tokens", &n]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("{}\n", reference["greedy_text"].as_str().unwrap()));
}

#[test]
fn chat_refuses_models_without_a_template_or_tokenizer() {
    // An HF directory with no tokenizer_config.json chat template.
    let (code, _, err) = wgraph(&["chat", fixture("models/llama_gqa").to_str().unwrap(), "hi"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no chat template"), "{err}");
    // A GGUF file whose metadata has no template.
    let gguf = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gguf/tiny_llama_f32.gguf");
    let (code, _, err) = wgraph(&["chat", gguf.to_str().unwrap(), "hi"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("tokenizer.chat_template"), "{err}");
}
