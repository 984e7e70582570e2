//! HF task heads' own losses and `loss.backward()` gradients, built through
//! the library (`zoo::load_with_loss`, `grad::gradient_graph`), against
//! PyTorch references in tests/fixtures/grads/hf (made by
//! tests/fixtures/grads/generate_hf.py): each gradient within 1e-3 of its
//! largest magnitude, the loss within 1e-5.

mod common;

use common::device;
use std::path::{Path, PathBuf};
use wgraph::{Compiler, Interpreter, NamedTensors, Tensor, Weights};
use wgraph_graphs::grad::{gradient_graph, GradientGraph};
use wgraph_graphs::loss::ProblemType;
use wgraph_graphs::zoo::{self, LossKind};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/grads/hf").join(name)
}

fn read_all(path: &Path) -> Vec<(String, Tensor)> {
    let w = Weights::open([path]).unwrap();
    let names: Vec<String> = w.names().map(String::from).collect();
    names.into_iter().map(|n| (n.clone(), w.read(&n).unwrap())).collect()
}

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

/// Worst error of each gradient relative to its largest magnitude; panics
/// past `tol` (and the loss past 1e-5). Gradients that are zero in exact
/// arithmetic (attention's key bias: softmax ignores a constant added to
/// every score of a row) are rounding noise on both sides, so a tensor's
/// scale is at least 1e-3 of the largest gradient of the model.
pub fn assert_matches_reference(name: &str, ours: &NamedTensors, tol: f64) -> f64 {
    let want = read_all(&fixture(name).join("grads.safetensors"));
    let max_abs = |t: &Tensor| t.to_f64_vec().iter().map(|v| v.abs()).fold(0.0, f64::max);
    let floor = 1e-3 * want.iter().filter(|(k, _)| k != "loss").map(|(_, t)| max_abs(t)).fold(0.0, f64::max);
    assert!(floor > 0.0, "{name}: PyTorch's gradients are all zeros");
    let mut worst = 0.0f64;
    for (key, w) in &want {
        let got = ours.get(key).unwrap_or_else(|| panic!("{name}: no gradient for `{key}`"));
        assert_eq!(got.shape(), w.shape(), "{name}: `{key}` shape");
        let (g, w) = (got.to_f64_vec(), w.to_f64_vec());
        let diff = g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        if key == "loss" {
            assert!(diff <= 1e-5, "{name}: loss {g:?}, PyTorch {w:?}");
            continue;
        }
        let scale = w.iter().map(|v| v.abs()).fold(floor, f64::max);
        let rel = diff / scale;
        assert!(rel <= tol, "{name}: `{key}` differs from PyTorch by {diff:e} ({rel:e} of its max {scale:e})");
        worst = worst.max(rel);
    }
    worst
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
    let model = Compiler::new(device()).compile(&grads.graph, &weights).unwrap_or_else(|e| panic!("{name}: {e}"));
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
