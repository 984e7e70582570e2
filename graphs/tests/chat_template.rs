//! Chat templates rendered as HF transformers renders them: every
//! conversation of graphs/tests/fixtures/chat/renderings.json (made by
//! `apply_chat_template(..., tokenize=False)` in the generate.py beside
//! it) with the real SmolLM2 template from the tokenizer GGUF fixture, and
//! with templates in other checkpoints' styles; conversations HF refuses
//! are refused here too.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::fixture;
use serde_json::Value;
use std::path::PathBuf;
use wgraph_models::chat::{end_of_turn_ids, template_at, ChatTemplate, ChatTemplateError, Message};

fn renderings() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("chat/renderings.json")).unwrap()).unwrap()
}

fn smollm2_gguf() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/gguf/smollm2_tokenizer.gguf")
}

fn messages(reference: &Value, conversation: &str) -> Vec<Message> {
    serde_json::from_value(reference["conversations"][conversation].clone()).unwrap()
}

/// Renders every recorded conversation with `template` and compares with HF.
fn check_all(template: &ChatTemplate, reference: &Value, name: &str) -> usize {
    let rows = reference["renderings"][name].as_array().unwrap();
    for row in rows {
        let conversation = row["conversation"].as_str().unwrap();
        let add = row["add_generation_prompt"].as_bool().unwrap();
        let got = template.render(&messages(reference, conversation), add);
        if row.get("error").is_some() {
            let message = row["message"].as_str().unwrap();
            match got {
                Err(ChatTemplateError::Refused { message: ours }) => {
                    assert!(message.contains(&ours), "{name}/{conversation}: HF said {message:?}, we {ours:?}")
                }
                other => panic!("{name}/{conversation}: HF refused ({message}), we gave {other:?}"),
            }
        } else {
            assert_eq!(got.unwrap(), row["text"].as_str().unwrap(), "{name}/{conversation} add={add}");
        }
    }
    rows.len()
}

#[test]
fn smollm2_template_from_gguf_metadata_renders_as_hf() {
    let reference = renderings();
    let template = template_at(&smollm2_gguf()).unwrap();
    assert_eq!(check_all(&template, &reference, "smollm2"), 10);
    // The question the README's chat answers, as the tokenizer fixture recorded it.
    let tok: Value = serde_json::from_str(
        &std::fs::read_to_string(smollm2_gguf().with_file_name("smollm2_tokenizer.json")).unwrap(),
    )
    .unwrap();
    let question = [Message::new("user", "What is the capital of France?")];
    assert_eq!(template.render(&question, true).unwrap(), tok["chat_text"].as_str().unwrap());
}

#[test]
fn other_template_styles_render_as_hf() {
    let reference = renderings();
    let (bos, eos) = (reference["bos_token"].as_str().unwrap(), reference["eos_token"].as_str().unwrap());
    for name in ["llama2", "tooly"] {
        let template = ChatTemplate::new(reference["templates"][name].as_str().unwrap(), bos, eos).unwrap();
        assert_eq!(check_all(&template, &reference, name), 10, "{name}");
    }
}

#[test]
fn hf_directory_template_and_end_of_turn_tokens() {
    let dir = fixture("serve/chat_llama");
    let chat: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("chat_reference.json")).unwrap()).unwrap();
    let template = template_at(&dir).unwrap();
    let conversation: Vec<Message> = serde_json::from_value(chat["messages"].clone()).unwrap();
    assert_eq!(template.render(&conversation, true).unwrap(), chat["text"].as_str().unwrap());
    // <|im_end|> (2) is the config's EOS; <|endoftext|> (0) also ends a turn.
    let tokenizer = wgraph_models::text::tokenizer_at(&dir).unwrap();
    assert_eq!(end_of_turn_ids(&tokenizer, &[2]), [2, 0]);
    let smol = wgraph_models::text::tokenizer_at(&smollm2_gguf()).unwrap();
    assert_eq!(end_of_turn_ids(&smol, &[2]), [2, 0]);
}

#[test]
fn named_templates_pick_default_and_missing_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let write = |config: Value| {
        std::fs::write(dir.path().join("tokenizer_config.json"), config.to_string()).unwrap();
    };
    write(serde_json::json!({"eos_token": {"content": "</s>"}, "chat_template": [
        {"name": "tool_use", "template": "tools"},
        {"name": "default", "template": "{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"},
    ]}));
    let rendered = template_at(dir.path()).unwrap().render(&[Message::new("user", "hi")], true).unwrap();
    assert_eq!(rendered, "hi</s>");
    write(serde_json::json!({"chat_template": [{"name": "tool_use", "template": "x"}]}));
    match template_at(dir.path()) {
        Err(ChatTemplateError::NoDefault { available, .. }) => assert_eq!(available, ["tool_use"]),
        other => panic!("expected NoDefault, got {other:?}"),
    }
    write(serde_json::json!({"chat_template": 3}));
    assert!(matches!(template_at(dir.path()), Err(ChatTemplateError::Field { .. })));
    write(serde_json::json!({"eos_token": "</s>"}));
    assert!(matches!(template_at(dir.path()), Err(ChatTemplateError::Missing { .. })));
    // A template that does not compile is refused when loaded, not at render.
    assert!(matches!(ChatTemplate::new("{% for %}", "", ""), Err(ChatTemplateError::Syntax { .. })));
    // chat_template.jinja wins over tokenizer_config.json, as in HF.
    std::fs::write(dir.path().join("chat_template.jinja"), "[{{ messages[0].content }}]").unwrap();
    assert_eq!(template_at(dir.path()).unwrap().render(&[Message::new("user", "x")], false).unwrap(), "[x]");
}
