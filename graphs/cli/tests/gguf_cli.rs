//! GGUF files through the CLI as a user passes them, in place of a model
//! directory: `inspect` lists metadata and tensors under both names,
//! `check-weights` finds every weight, and `generate` continues a prompt
//! with HF transformers' greedy tokens for the same file
//! (tests/fixtures/gguf/generate_llama.py).

#[path = "common/cli_run.rs"]
mod cli_run;

use cli_run::wgraph;
use std::path::PathBuf;

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/gguf").join(name);
    path.to_str().unwrap().to_string()
}

#[test]
fn inspect_lists_metadata_tensors_and_hf_names() {
    let (code, out, err) = wgraph(&["inspect", &fixture("tiny_llama_q8_0.gguf")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("GGUF v3, 21 tensors"), "{out}");
    assert!(out.contains("llama.attention.head_count_kv = 2 (u32)"), "{out}");
    assert!(out.contains("blk.1.attn_q.weight") && out.contains("(model.layers.1.self_attn.q_proj.weight)"), "{out}");
    assert!(out.contains("Q4_1  1 tensors") && out.contains("Q8_0  15 tensors"), "{out}");
}

#[test]
fn check_weights_and_generate_take_a_gguf_file() {
    let greedy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("tiny_llama_greedy.json")).unwrap()).unwrap();
    for file in ["tiny_llama_f32.gguf", "tiny_llama_q8_0.gguf"] {
        let (code, out, err) = wgraph(&["check-weights", &fixture(file)]);
        assert_eq!(code, 0, "{file}: {out}{err}");
        assert!(out.contains("all 21 weights of `LlamaForCausalLM` are present"), "{file}: {out}");
        let want: Vec<String> = greedy[file].as_array().unwrap().iter().map(|t| t.to_string()).collect();
        let args = ["generate", &fixture(file), "--input-ids", "1,2,3,60,5", "--max-new-tokens", "8"];
        let (code, out, err) = wgraph(&args);
        assert_eq!(code, 0, "{file}: {out}{err}");
        assert_eq!(out.lines().next(), Some(want.join(",").as_str()), "{file}: HF's greedy tokens");
    }
}

#[test]
fn a_file_that_is_not_a_model_is_refused() {
    let (code, out, err) = wgraph(&["generate", &fixture("main.gguf"), "--input-ids", "1", "--max-new-tokens", "1"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("main.gguf"), "{err}");
}

#[test]
fn tokenize_gives_hfs_ids_from_the_files_tokenizer() {
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("smollm2_tokenizer.json")).unwrap()).unwrap();
    let texts = ["What is the capital of France?", "don't won't I'm we'll they're"];
    let mut args = vec!["tokenize".to_string(), fixture("smollm2_tokenizer.gguf")];
    args.extend(texts.iter().map(|t| t.to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = wgraph(&args);
    assert_eq!(code, 0, "{out}{err}");
    for (line, text) in out.lines().zip(texts) {
        let want: Vec<String> = reference["texts"][text].as_array().unwrap().iter().map(|i| i.to_string()).collect();
        assert_eq!(line, want.join(","), "{text}");
    }
    // A file whose metadata has a token list but no merges: refused by name.
    let (code, out, err) = wgraph(&["generate", &fixture("tiny_llama_f32.gguf"), "--prompt", "hi"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("tokenizer.ggml.merges"), "{err}");
}

#[test]
fn dump_decode_step_shows_the_one_token_program() {
    let (code, out, err) = wgraph(&["dump", &fixture("tiny_llama_q8_0.gguf"), "--decode-step"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("LlamaForCausalLM.decode_step"), "{out}");
    assert!(out.contains("next_token"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let compiled = dir.path().join("step");
    let args = ["dump", &fixture("tiny_llama_q8_0.gguf"), "--decode-step", "--compiled", compiled.to_str().unwrap()];
    let (code, out, err) = wgraph(&args);
    assert_eq!(code, 0, "{out}{err}");
    let schedule = std::fs::read_to_string(compiled.join("schedule.txt")).unwrap();
    // The attention reads the cache in place: only the mask has a grid
    // that grows with the cache (no kernel copies the cache).
    let mut kernel = "";
    let mut growing = Vec::new();
    for line in schedule.lines() {
        let trimmed = line.trim_start();
        // Kernel lines are `N  %id:name`; their detail lines follow.
        if trimmed.split_whitespace().next().is_some_and(|w| w.parse::<usize>().is_ok()) {
            kernel = trimmed;
        }
        if trimmed.starts_with("grid") && trimmed.contains("past") {
            growing.push(kernel.to_string());
        }
    }
    assert!(schedule.contains(":attention\n"), "{schedule}");
    assert!(growing.iter().all(|k| k.ends_with(":and")), "{growing:?}");
}
