//! Every model in graphs/tests/fixtures/models (small random HF models made by
//! graphs/tests/fixtures/generate_models.py) against HF transformers' own forward,
//! on the GPU and on the interpreter, padded batches included.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::model;

mod common;

use common::device;

use std::path::Path;
use wgraph::{Interpreter, Loader, Tensor, Weights};
use wgraph_models::zoo;

fn read_all(path: &Path) -> Vec<(String, Tensor)> {
    let w = Weights::open([path]).unwrap();
    let names: Vec<String> = w.names().map(String::from).collect();
    names.into_iter().map(|n| (n.clone(), w.read(&n).unwrap())).collect()
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.to_f32_vec().iter().zip(b.to_f32_vec()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// Runs one fixture model and compares every HF output within `tol`.
fn check(name: &str, tol: f32) {
    check_allowing_unused(name, tol, None)
}

/// Like `check`; stored tensors under `unused_prefix` may stay unused (the
/// Whisper decoder when only the encoder runs).
fn check_allowing_unused(name: &str, tol: f32, unused_prefix: Option<&str>) {
    let dir = model(name);
    let loaded = zoo::load(&dir).unwrap_or_else(|e| panic!("{name}: {e}"));
    let weights = Weights::from_dir(&dir).unwrap();
    let checked = loaded.graph.check_weights(&weights).unwrap_or_else(|e| panic!("{name}: {e}"));
    let unexpected: Vec<&str> = checked
        .unused
        .iter()
        .map(|u| u.name.as_str())
        .filter(|n| unused_prefix.is_none_or(|p| !n.starts_with(p)))
        .collect();
    assert!(unexpected.is_empty(), "{name}: every weight is used: {checked}");
    let inputs = read_all(&dir.join("inputs.safetensors"));
    let expected = read_all(&dir.join("outputs.safetensors"));

    let model = Loader::new(device()).load(&loaded.graph, &weights).unwrap_or_else(|e| panic!("{name}: {e}"));
    let gpu = model.run(inputs.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let cpu = Interpreter::new().run(&loaded.graph, &weights, inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
    for (out, want) in &expected {
        if out == "generated_ids" {
            continue; // checked by generation, not by the forward graph
        }
        let g = gpu.get(out).unwrap_or_else(|| panic!("{name}: no output {out}"));
        let c = cpu.get(out).unwrap();
        let (dg, dc) = (max_abs_diff(g, want), max_abs_diff(c, want));
        assert!(dg <= tol, "{name}: GPU `{out}` differs from HF by {dg} (tolerance {tol})");
        assert!(dc <= tol, "{name}: interpreter `{out}` differs from HF by {dc} (tolerance {tol})");
        // The fixture is far from zero, so agreement is meaningful.
        let scale = want.to_f32_vec().iter().map(|v| v.abs()).fold(0.0, f32::max);
        assert!(scale > 0.1, "{name}: reference `{out}` is too close to zero ({scale})");
    }
}

#[test]
fn distilbert_base_padded() {
    check("distilbert_base", 1e-4);
}

#[test]
fn distilbert_sequence_classification_padded() {
    check("distilbert_classifier", 1e-4);
    let loaded = zoo::load(model("distilbert_classifier")).unwrap();
    assert_eq!(loaded.labels, ["negative", "neutral", "positive"]);
}

#[test]
fn bert_base_with_token_types() {
    check("bert_base", 1e-4);
}

#[test]
fn bert_wider_three_heads_gelu_new_eps_1e5() {
    check("bert_wide_tanh_gelu", 1e-4);
}

#[test]
fn unsupported_architectures_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), r#"{"model_type": "gpt_neox"}"#).unwrap();
    let err = zoo::load(dir.path()).err().unwrap().to_string();
    assert_eq!(err, "model_type `gpt_neox` is not supported; wgraph builds: bert, distilbert, llama, whisper");
}

#[test]
fn whisper_encoder_with_final_layer_norm() {
    check_allowing_unused("whisper_tiny", 1e-4, Some("decoder."));
}

#[test]
fn whisper_encoder_three_heads_ten_mel_bins() {
    check_allowing_unused("whisper_wide", 1e-4, Some("decoder."));
}

/// Forward logits against HF (1e-3: logits pass through every layer and the
/// vocabulary projection), then greedy generation with the KV cache against
/// HF `generate(do_sample=False)`, token for token.
fn check_llama(name: &str) {
    check(name, 1e-3);
    let dir = model(name);
    let cfg = wgraph_models::llama::LlamaConfig::from_hf(&wgraph_models::HfConfig::from_dir(&dir).unwrap()).unwrap();
    let generator = wgraph_models::generate::Generator::new(cfg, Weights::from_dir(&dir).unwrap(), device()).unwrap();
    let inputs = Weights::open([dir.join("inputs.safetensors")]).unwrap();
    let want: Vec<i64> =
        Weights::open([dir.join("outputs.safetensors")]).unwrap().read("generated_ids").unwrap().to_i64_vec();
    let ids = inputs.read("input_ids").unwrap();
    let prompt_len = ids.shape()[1];
    let prompt = &ids.to_i64_vec()[..prompt_len];
    let got = generator.greedy(prompt, want.len() - prompt_len, &[]).unwrap();
    assert_eq!(got, want, "{name}: greedy tokens differ from HF generate");
}

#[test]
fn llama_grouped_query_attention_untied_head() {
    check_llama("llama_gqa");
}

#[test]
fn llama_tied_embeddings_three_layers_rope_theta_500() {
    check_llama("llama_tied_mha");
}

/// Tapping every named value (for `--dump`) materialises those values but
/// must not change the outputs of the untapped run, bit for bit.
#[test]
fn taps_do_not_change_the_numbers() {
    for name in ["distilbert_classifier", "bert_base", "llama_gqa"] {
        let dir = model(name);
        let loaded = zoo::load(&dir).unwrap();
        let weights = Weights::from_dir(&dir).unwrap();
        let inputs = read_all(&dir.join("inputs.safetensors"));
        let plain = Loader::new(device()).load(&loaded.graph, &weights).unwrap();
        let options = wgraph::CompileOptions { taps: vec!["*".into()], ..Default::default() };
        let tapped = Loader::new(device()).with_options(options).load(&loaded.graph, &weights).unwrap();
        let a = plain.run(inputs.clone()).unwrap();
        let (b, taps) = tapped.run_with_taps(inputs.clone()).unwrap();
        assert!(taps.len() > 10, "{name}: {} taps", taps.len());
        // Every tapped value is the value the interpreter computes for it.
        let trace = wgraph::Interpreter::new().run_traced(&loaded.graph, &weights, inputs).unwrap();
        let ir = loaded.graph.ir().unwrap();
        for (tap, t) in taps.iter() {
            let id = ir.graph.node_indices().find(|&n| ir.node(n).names().any(|x| x == tap)).unwrap();
            let want = &trace.values.iter().find(|(n, _)| *n == id).unwrap().1;
            let d = max_abs_diff(t, want);
            assert!(d < 1e-4, "{name}: tap `{tap}` differs from the interpreter by {d}");
        }
        for (out, t) in a.iter() {
            assert_eq!(t.to_f32_vec(), b.get(out).unwrap().to_f32_vec(), "{name}: `{out}` changed when tapped");
        }
    }
}

#[test]
fn whisper_for_conditional_generation_checkpoint() {
    // Keys under `model.encoder.`; the decoder and the tied head stay unused.
    check_allowing_unused("whisper_conditional", 1e-4, Some("model.decoder."));
}

#[test]
fn llama_base_model_multi_query_attention() {
    check("llama_base_mqa", 1e-4);
}
