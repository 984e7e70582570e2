//! The fuse-attention pass on the model graphs: every inference graph's
//! attention becomes one `attention` kernel per layer, a training graph
//! (whose backward reads the probabilities) keeps the unfused kernels, and
//! `WGRAPH_ATTENTION=off` turns the pass off. Compiles only (no device).

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::fixture;

use wgraph::compile::{compile, CompileOptions, Target};
use wgraph::{ops, DType, Dim, Graph, Settings};
use wgraph_models::grad::gradient_graph;
use wgraph_models::zoo;

/// Kernel names of `graph` compiled with `WGRAPH_ATTENTION=setting`.
fn kernels(graph: &Graph, setting: &str) -> Vec<String> {
    let settings = Settings { attention: Some(setting.to_string()), ..Settings::default() };
    let options = CompileOptions { settings, ..CompileOptions::default() };
    let program = compile(&graph.ir().unwrap(), &options, &Target::portable()).unwrap();
    program.kernels.into_iter().map(|k| k.name).collect()
}

fn attention_kernels(names: &[String]) -> usize {
    names.iter().filter(|n| n.contains("attention")).count()
}

fn softmax_kernels(names: &[String]) -> usize {
    names.iter().filter(|n| n.contains("softmax")).count()
}

#[test]
fn every_inference_graph_fuses_its_attention() {
    // (fixture, attention layers: Whisper's encoder only)
    for (name, layers) in [
        ("bert_base", 2),
        ("distilbert_base", 2),
        ("whisper_tiny", 2),
        ("llama_gqa", 2),
        ("llama_tied_mha", 3),
        ("llama_base_mqa", 2),
    ] {
        let loaded = zoo::load(fixture("models").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fused = kernels(&loaded.graph, "on");
        assert_eq!(attention_kernels(&fused), layers, "{name}: {fused:#?}");
        assert_eq!(softmax_kernels(&fused), 0, "{name}: no softmax left: {fused:#?}");
        let plain = kernels(&loaded.graph, "off");
        assert_eq!(attention_kernels(&plain), 0, "{name}: WGRAPH_ATTENTION=off");
        assert_eq!(softmax_kernels(&plain), layers, "{name}: {plain:#?}");
    }
}

#[test]
fn a_training_graph_keeps_its_probabilities() {
    for name in ["distilbert_seqcls", "llama_gqa_lm"] {
        let dir = fixture("grads/hf").join(name);
        // Both fixtures' labels are class or token ids.
        let loaded = zoo::load_with_loss(&dir, DType::I64).unwrap_or_else(|e| panic!("{name}: {e}"));
        let grads = gradient_graph(loaded).unwrap_or_else(|e| panic!("{name}: {e}"));
        let names = kernels(&grads.graph, "on");
        assert_eq!(attention_kernels(&names), 0, "{name}: the backward reads the probabilities: {names:#?}");
        assert!(softmax_kernels(&names) > 0, "{name}");
    }
}

/// Near misses stay unfused: a softmax over the query axis (bug_zoo's
/// bug), probabilities also returned, and scores also read elsewhere.
#[test]
fn near_misses_are_left_alone() {
    let build = |variant: u8| {
        let g = Graph::new("near_miss");
        let x = |name: &str| g.input(name, DType::F32, [Dim::sym("batch"), 2.into(), Dim::sym("seq"), 8.into()]);
        let (q, k, v) = (x("q"), x("k"), x("v"));
        let scores = ops::matmul(&q, &ops::transpose(&k, -1, -2)) * 0.35;
        let axis = if variant == 0 { -2 } else { -1 };
        let probs = ops::softmax(&scores, axis);
        let mut outputs = vec![("out", ops::matmul(&probs, &v))];
        match variant {
            1 => outputs.push(("probs", probs)),
            2 => outputs.push(("scores_sum", ops::sum(&scores, -1, false))),
            _ => {}
        }
        g.output_named(outputs).unwrap();
        g
    };
    for variant in 0..3 {
        let names = kernels(&build(variant), "on");
        assert_eq!(attention_kernels(&names), 0, "variant {variant}: {names:#?}");
    }
    // The same graph without the extra reader fuses.
    assert_eq!(attention_kernels(&kernels(&build(3), "on")), 1);
}
