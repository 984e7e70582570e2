//! The build-time weight check on a DistilBERT-shaped graph: one report
//! naming every problem with the right suggestions.

use std::collections::HashMap;
use wgraph::graph::{NamedTensors, Op};
use wgraph::weights::{save_safetensors, PrefixHint, WeightProblem};
use wgraph::{DType, Graph, Tensor, WeightError, Weights};
use wgraph_models::distilbert::{build, DistilBertConfig, DistilBertHead};
use wgraph_models::nn::Activation;
use wgraph_models::Gelu;

fn config() -> DistilBertConfig {
    DistilBertConfig {
        vocab_size: 50,
        dim: 16,
        n_layers: 2,
        n_heads: 2,
        hidden_dim: 32,
        max_position_embeddings: 20,
        activation: Activation::Gelu(Gelu::Erf),
        labels: vec![],
    }
}

/// Deterministic pseudo-random values (the check never looks at them).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((s >> 33) as f32 / (1u64 << 31) as f32) - 0.5
        })
        .collect()
}

/// Every weight the graph declares, with the declared shape.
fn complete_checkpoint(g: &Graph) -> Vec<(String, Tensor)> {
    let ir = g.ir().unwrap();
    ir.weights()
        .into_iter()
        .enumerate()
        .filter_map(|(i, id)| match &ir.node(id).op {
            Op::Weight { name, shape, .. } => {
                let shape: Vec<usize> = shape.iter().map(|d| d.as_static().unwrap()).collect();
                let n = shape.iter().product();
                Some((name.clone(), Tensor::new(shape, values(n, i as u64)).unwrap()))
            }
            _ => None,
        })
        .collect()
}

fn save(dir: &std::path::Path, file: &str, tensors: Vec<(String, Tensor)>) -> std::path::PathBuf {
    let path = dir.join(file);
    save_safetensors(&path, &NamedTensors(tensors), None).unwrap();
    path
}

fn report_of(r: Result<wgraph::CheckedWeights, WeightError>) -> wgraph::weights::WeightReport {
    match r {
        Err(WeightError::Check(report)) => *report,
        other => panic!("expected a weight report, got {other:?}"),
    }
}

#[test]
fn misnamed_transposed_and_unused_tensors_in_one_report() {
    let g = build(&config(), DistilBertHead::Base).unwrap();
    let mut tensors = complete_checkpoint(&g);
    for (name, t) in tensors.iter_mut() {
        if name == "transformer.layer.0.attention.q_lin.weight" {
            *name = "transformer.layer.0.attention.q_lin.weights".into();
        }
        if name == "transformer.layer.1.ffn.lin1.weight" {
            // Saved as [in, out]: the classic hand-port mistake.
            *t = Tensor::new([16, 32], values(16 * 32, 7)).unwrap();
        }
    }
    tensors.push(("vocab_projector.bias".into(), Tensor::new([50], values(50, 9)).unwrap()));
    let dir = tempfile::tempdir().unwrap();
    let path = save(dir.path(), "model.safetensors", tensors);

    let weights = Weights::open([&path]).unwrap();
    let report = report_of(g.check_weights(&weights));
    assert_eq!(report.problems.len(), 2, "{report}");
    match &report.problems[..] {
        [WeightProblem::Missing { name, closest, .. }, WeightProblem::Shape { name: shape_name, expected, got, hint, .. }] =>
        {
            assert_eq!(name, "transformer.layer.0.attention.q_lin.weight");
            assert_eq!(closest[0], "transformer.layer.0.attention.q_lin.weights");
            assert_eq!(shape_name, "transformer.layer.1.ffn.lin1.weight");
            assert_eq!(expected.iter().map(|d| d.to_string()).collect::<Vec<_>>(), ["32", "16"]);
            assert_eq!(got, &[16, 32]);
            assert!(hint.as_deref().unwrap().contains("transpose"), "{hint:?}");
        }
        other => panic!("unexpected problems: {other:#?}"),
    }
    let unused: Vec<&str> = report.unused.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(unused, ["transformer.layer.0.attention.q_lin.weights", "vocab_projector.bias"]);
    let text = report.to_string().replace(&path.display().to_string(), "<dir>/model.safetensors");
    insta::assert_snapshot!("distilbert_report", text);
}

#[test]
fn a_wrapper_prefix_gets_one_hint_and_with_prefix_fixes_it() {
    let g = build(&config(), DistilBertHead::Base).unwrap();
    let tensors = complete_checkpoint(&g).into_iter().map(|(n, t)| (format!("distilbert.{n}"), t)).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = save(dir.path(), "model.safetensors", tensors);

    let report = report_of(g.check_weights(&Weights::open([&path]).unwrap()));
    let n = report.problems.len();
    assert_eq!(report.prefix_hint, Some(PrefixHint::FileHasPrefix { prefix: "distilbert.".into(), explains: n }));
    assert!(report.to_string().contains("Weights::with_prefix(\"distilbert.\")"));

    let checked = g.check_weights(&Weights::open([&path]).unwrap().with_prefix("distilbert.")).unwrap();
    assert!(!checked.has_warnings(), "{checked}");
}

#[test]
fn sharded_f16_checkpoints_load_and_unconvertible_dtypes_are_reported() {
    let g = build(&config(), DistilBertHead::Base).unwrap();
    let tensors = complete_checkpoint(&g);
    let half = tensors.len() / 2;
    let (a, b) = tensors.split_at(half);
    let to_f16 = |v: &[(String, Tensor)]| v.iter().map(|(n, t)| (n.clone(), t.cast(DType::F16))).collect::<Vec<_>>();
    let dir = tempfile::tempdir().unwrap();
    save(dir.path(), "model-00001-of-00002.safetensors", to_f16(a));
    save(dir.path(), "model-00002-of-00002.safetensors", b.to_vec());
    let mut map = HashMap::new();
    for (n, _) in a {
        map.insert(n.clone(), "model-00001-of-00002.safetensors");
    }
    for (n, _) in b {
        map.insert(n.clone(), "model-00002-of-00002.safetensors");
    }
    let index = serde_json::json!({"metadata": {}, "weight_map": map});
    std::fs::write(dir.path().join("model.safetensors.index.json"), index.to_string()).unwrap();

    let weights = Weights::from_dir(dir.path()).unwrap();
    assert_eq!(weights.len(), tensors.len());
    g.check_weights(&weights).unwrap();
    // f16 storage is read back as the f32 the graph declares, rounded to f16.
    let (name, t) = &a[0];
    let loaded = weights.get(name, DType::F32).unwrap();
    assert_eq!(loaded.dtype(), DType::F32);
    assert_eq!(loaded.to_f32_vec(), t.cast(DType::F16).to_f32_vec());

    // Token ids stored where a float weight belongs cannot be converted.
    let mut bad = tensors.clone();
    bad[0].1 = bad[0].1.cast(DType::I64);
    let dir2 = tempfile::tempdir().unwrap();
    let path = save(dir2.path(), "model.safetensors", bad);
    let report = report_of(g.check_weights(&Weights::open([&path]).unwrap()));
    assert!(
        matches!(&report.problems[..], [WeightProblem::DType { expected: DType::F32, got, .. }] if got == "I64"),
        "{report}"
    );
}

#[test]
fn a_missing_file_or_directory_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(Weights::from_dir(dir.path()), Err(WeightError::NoCheckpoint { .. })));
    let junk = dir.path().join("junk.safetensors");
    std::fs::write(&junk, b"not a safetensors file").unwrap();
    let err = Weights::open([&junk]).unwrap_err();
    assert!(matches!(err, WeightError::Parse { .. }), "{err}");
}
