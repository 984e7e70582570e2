//! The bug zoo: classic porting bugs seeded into small DistilBERT, Whisper
//! encoder and LLaMA checkpoints, their configs, their inputs, or the built
//! graph itself (a port that skips a module or softmaxes the wrong axis),
//! each run through wgraph with every named module tapped and compared with
//! PyTorch's dump of the correct model
//! (graphs/tests/fixtures/models/*/torch_dump.safetensors, made by
//! tools/torch_dump.py). `compare` must name the module where the bug first
//! shows, every time.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::model as model_dir;

#[path = "common/bugs.rs"]
mod bugs;
mod common;

use bugs::{distilbert_attention_bugs, layer_norm_eps, no_edit, softmax_over_queries, swap, transpose_square, Bug};
use common::device;

use wgraph::debug::{compare, read_dump, Comparison, Tolerance};
use wgraph::{CompileOptions, Loader, Tensor, Weights};
use wgraph_models::{zoo, HfConfig};

fn read_all(path: &std::path::Path) -> Vec<(String, Tensor)> {
    let w = Weights::open([path]).unwrap();
    let names: Vec<String> = w.names().map(String::from).collect();
    names.into_iter().map(|n| (n.clone(), w.read(&n).unwrap())).collect()
}

/// Runs the bugged port with every module tapped, compares with PyTorch.
fn run_bugged(model: &str, bug: &Bug) -> Comparison {
    let dir = model_dir(model);
    let tmp = tempfile::tempdir().unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    (bug.config)(&mut config);
    std::fs::write(tmp.path().join("config.json"), config.to_string()).unwrap();
    let loaded = zoo::load(tmp.path()).unwrap();
    let mut ir = loaded.graph.ir().unwrap().clone();
    (bug.graph)(&mut ir);
    let mut tensors = read_all(&dir.join("model.safetensors"));
    (bug.weights)(&mut tensors);
    let weights = Weights::from_tensors(tensors);
    let mut inputs = read_all(&dir.join("inputs.safetensors"));
    (bug.inputs)(&mut inputs);
    let options = CompileOptions { taps: vec!["*".into()], ..Default::default() };
    let model_ = Loader::new(device()).with_options(options).load_ir(&ir, &weights).unwrap();
    let (outputs, mut taps) = model_.run_with_taps(inputs).unwrap();
    taps.0.extend(outputs);
    compare(&taps, &read_dump(dir.join("torch_dump.safetensors")).unwrap(), Tolerance::default())
}

fn check(model: &str, bugs: &[Bug]) {
    let _ = HfConfig::from_dir(model_dir(model)).unwrap();
    // The unbugged port agrees everywhere: each divergence below is the bug's.
    let clean = Bug::graph("none", no_edit, &[]);
    let result = run_bugged(model, &clean);
    assert!(!result.diverged(), "{model} without bugs diverges:\n{result}");
    for bug in bugs {
        let result = run_bugged(model, bug);
        let text = result.to_string();
        let (name, why) =
            result.first_divergence.unwrap_or_else(|| panic!("{model}, {}: no divergence found\n{text}", bug.what));
        assert!(
            bug.expect.contains(&name.as_str()),
            "{model}, {}: compare named `{name}` ({why:?}), expected one of {:?}\n{text}",
            bug.what,
            bug.expect
        );
    }
}

#[test]
fn distilbert_bugs_are_found_where_they_are() {
    check("distilbert_classifier", &distilbert_attention_bugs());
}

#[test]
fn llama_bugs_are_found_where_they_are() {
    check(
        "llama_tied_mha",
        &[
            Bug::weights(
                "q and k projections swapped in layer 1",
                |t| swap(t, "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight"),
                &["model.layers.1.self_attn.q_proj"],
            ),
            Bug::config(
                "wrong RMSNorm epsilon",
                |c| c["rms_norm_eps"] = serde_json::json!(0.5),
                &["model.layers.0.input_layernorm"],
            ),
            Bug::config(
                "wrong rope_theta",
                |c| c["rope_parameters"]["rope_theta"] = serde_json::json!(10000.0),
                &["model.rotary_emb"],
            ),
            Bug::weights(
                "an MLP Linear read transposed",
                |t| transpose_square(t, "model.layers.2.mlp.down_proj.weight"),
                &["model.layers.2.mlp.down_proj", "model.layers.2.mlp"],
            ),
            Bug::config(
                "RoPE interleaved instead of half-split",
                |c| c["rope_traditional"] = serde_json::json!(true),
                &["model.rotary_emb"],
            ),
            Bug::graph(
                "softmax over the query axis",
                softmax_over_queries,
                &["model.layers.0.self_attn.o_proj", "model.layers.0.self_attn"],
            ),
            Bug::graph("final RMSNorm missing", |ir| ir.bypass("model.norm", 0).unwrap(), &["lm_head"]),
        ],
    );
}

#[test]
fn whisper_encoder_bugs_are_found_where_they_are() {
    check(
        "whisper_tiny",
        &[
            Bug::weights(
                "q and k projections swapped in layer 1",
                |t| swap(t, "encoder.layers.1.self_attn.q_proj.weight", "encoder.layers.1.self_attn.k_proj.weight"),
                &["encoder.layers.1.self_attn.q_proj"],
            ),
            Bug::weights(
                "an attention output Linear read transposed",
                |t| transpose_square(t, "encoder.layers.0.self_attn.out_proj.weight"),
                &["encoder.layers.0.self_attn.out_proj", "encoder.layers.0.self_attn"],
            ),
            Bug::graph(
                "wrong LayerNorm epsilon",
                |ir| layer_norm_eps(ir, "encoder.layers.1.final_layer_norm", 0.5),
                &["encoder.layers.1.final_layer_norm"],
            ),
            Bug::graph(
                "softmax over the query axis",
                softmax_over_queries,
                &["encoder.layers.0.self_attn.out_proj", "encoder.layers.0.self_attn"],
            ),
            Bug::graph(
                "final layer norm missing",
                |ir| ir.bypass("encoder.layer_norm", 0).unwrap(),
                &["last_hidden_state"],
            ),
        ],
    );
}

/// A skipped module is named as such: the divergence equals the
/// reference's previous module and the missing one is listed as unchecked.
#[test]
fn a_skipped_final_layer_norm_is_named() {
    let bug = Bug::graph("final layer norm missing", |ir| ir.bypass("encoder.layer_norm", 0).unwrap(), &[]);
    let result = run_bugged("whisper_tiny", &bug);
    assert_eq!(result.unchecked_before_divergence, ["encoder.layer_norm"], "{result}");
    let why = result.first_divergence.as_ref().and_then(|(_, why)| why.clone()).unwrap_or_default();
    assert!(why.contains("equals the reference's `encoder.layers.1`") && why.contains("encoder.layer_norm"), "{why}");
    let llama =
        run_bugged("llama_tied_mha", &Bug::graph("final norm missing", |ir| ir.bypass("model.norm", 0).unwrap(), &[]));
    assert!(llama.unchecked_before_divergence.contains(&"model.norm".to_string()), "{llama}");
}
