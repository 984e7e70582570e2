//! The config a GGUF file's metadata implies, as HF's GGUF loader reads
//! it: a tiny LLaMA written as llama.cpp's converter writes one
//! (tests/fixtures/gguf/generate_llama.py, LlamaConfig there).

use std::path::Path;
use wgraph_models::llama::LlamaConfig;
use wgraph_models::HfConfig;

#[test]
fn a_tiny_llama_file_gives_hfs_config() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/gguf/tiny_llama_q8_0.gguf");
    let llama = LlamaConfig::from_hf(&HfConfig::from_dir(&path).unwrap()).unwrap();
    assert_eq!((llama.hidden_size, llama.intermediate_size, llama.num_hidden_layers), (32, 64, 2));
    assert_eq!((llama.num_attention_heads, llama.num_key_value_heads, llama.head_dim), (4, 2, 8));
    assert_eq!((llama.vocab_size, llama.max_position_embeddings), (64, 128));
    assert!((llama.rms_norm_eps - 1e-5).abs() < 1e-12 && llama.rope_theta == 10000.0);
    assert!(!llama.tie_word_embeddings, "the file has output.weight");
}

#[test]
fn a_gguf_without_hyperparameters_is_refused_naming_what_is_missing() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/gguf/main.gguf");
    let e = HfConfig::from_dir(&path).unwrap_err().to_string();
    assert!(e.contains("main.gguf") && e.contains("llama.vocab_size"), "{e}");
}
