//! HF task heads' own losses and `loss.backward()` gradients, built through
//! the library (`zoo::load_with_loss`, `grad::gradient_graph`), against
//! PyTorch references in graphs/tests/fixtures/grads/hf (made by
//! graphs/tests/fixtures/grads/generate_hf.py): each gradient within 1e-3 of its
//! largest magnitude, the loss within 1e-5.

mod common;
#[path = "common/fixtures.rs"]
mod fixtures;
#[path = "common/grads.rs"]
mod grads;

use common::device;
use grads::{assert_matches_reference, fixture, read_all};
use wgraph::{Interpreter, Loader, Tensor, Weights};
use wgraph_models::grad::{gradient_graph, GradientGraph};
use wgraph_models::loss::ProblemType;
use wgraph_models::zoo::{self, LossKind};

/// The fixture's graph with loss and gradients, and its inputs.
fn build(name: &str) -> (GradientGraph, Weights, Vec<(String, Tensor)>, LossKind) {
    let dir = fixture(name);
    let mut inputs = read_all(&dir.join("inputs.safetensors"));
    // HF's default when a BERT fixture leaves token_type_ids out (as `wgraph grad` fills them).
    let ids_shape = inputs.iter().find(|(n, _)| n == "input_ids").unwrap().1.shape().to_vec();
    if name.starts_with("bert") && !inputs.iter().any(|(n, _)| n == "token_type_ids") {
        inputs.push(("token_type_ids".into(), Tensor::zeros(wgraph::DType::I64, ids_shape).unwrap()));
    }
    let labels = inputs.iter().find(|(n, _)| n == "labels").unwrap().1.dtype();
    let loaded = zoo::load_with_loss(&dir, labels).unwrap_or_else(|e| panic!("{name}: {e}"));
    let kind = loaded.loss.unwrap();
    let grads = gradient_graph(loaded).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert!(grads.unreachable.is_empty(), "{name}: every parameter reaches the loss: {:?}", grads.unreachable);
    (grads, Weights::from_dir(&dir).unwrap(), inputs, kind)
}

/// Every tensor the checkpoint stores has a gradient, and nothing else does.
fn assert_one_gradient_per_stored_tensor(name: &str, grads: &GradientGraph) {
    let w = Weights::from_dir(fixture(name)).unwrap();
    let mut stored: Vec<&str> = w.names().collect();
    let mut ours: Vec<&str> = grads.parameters.iter().map(String::as_str).collect();
    stored.sort();
    ours.sort();
    assert_eq!(ours, stored, "{name}");
}

fn gpu(name: &str) -> f64 {
    let (grads, weights, inputs, _) = build(name);
    assert_one_gradient_per_stored_tensor(name, &grads);
    let model = Loader::new(device()).load(&grads.graph, &weights).unwrap_or_else(|e| panic!("{name}: {e}"));
    let out = model.run(inputs).unwrap_or_else(|e| panic!("{name}: {e}"));
    let worst = assert_matches_reference(name, &out, 1e-3);
    eprintln!("{name}: GPU worst gradient error {worst:.2e} of max");
    worst
}

#[test]
fn distilbert_single_label_cross_entropy_on_the_interpreter() {
    let (grads, weights, inputs, kind) = build("distilbert_seqcls");
    assert_eq!(kind, LossKind::SequenceClassification(ProblemType::SingleLabelClassification));
    let out = Interpreter::new().run(&grads.graph, &weights, inputs).unwrap();
    let worst = assert_matches_reference("distilbert_seqcls", &out, 1e-3);
    eprintln!("distilbert_seqcls: interpreter worst gradient error {worst:.2e} of max");
}

#[test]
fn distilbert_single_label_cross_entropy_on_the_gpu() {
    gpu("distilbert_seqcls");
}

#[test]
fn bert_regression_mse_on_the_gpu() {
    let (_, _, _, kind) = build("bert_regression");
    assert_eq!(kind, LossKind::SequenceClassification(ProblemType::Regression));
    gpu("bert_regression");
}

#[test]
fn bert_default_two_labels_multi_label_bce_on_the_gpu() {
    let (_, _, _, kind) = build("bert_multilabel_default");
    assert_eq!(kind, LossKind::SequenceClassification(ProblemType::MultiLabelClassification));
    gpu("bert_multilabel_default");
}

#[test]
fn llama_causal_lm_grouped_query_with_ignored_labels_on_the_gpu() {
    gpu("llama_gqa_lm");
}

#[test]
fn llama_causal_lm_tied_embeddings_on_the_gpu() {
    gpu("llama_tied_mqa_lm");
}
