//! `wgraph::debug::compare`: first divergence and its diagnosis, on
//! hand-made tensors whose relationship is known.

use wgraph::debug::{compare, Tolerance};
use wgraph::{NamedTensors, Tensor};

fn t(shape: &[usize], v: Vec<f32>) -> Tensor {
    Tensor::new(shape.to_vec(), v).unwrap()
}

fn base() -> Vec<f32> {
    (0..12).map(|i| (i as f32 * 0.37).sin() + 0.1 * i as f32).collect()
}

fn first(ours: Tensor, reference: Tensor) -> (String, Option<String>) {
    let a = NamedTensors(vec![("ok".into(), t(&[2], vec![1.0, 2.0])), ("x".into(), ours)]);
    let b = NamedTensors(vec![("ok".into(), t(&[2], vec![1.0, 2.0])), ("x".into(), reference)]);
    compare(&a, &b, Tolerance::default()).first_divergence.expect("a divergence")
}

#[test]
fn agreeing_dumps_report_no_divergence() {
    let a = NamedTensors(vec![("a".into(), t(&[3, 4], base()))]);
    let c = compare(&a, &a.clone(), Tolerance::default());
    assert!(!c.diverged());
    assert!(c.to_string().ends_with("no divergence (1 tensors within rtol 0.001 atol 0.0001)"));
}

#[test]
fn diagnoses_name_the_pattern() {
    let b = base();
    let cases: Vec<(Vec<f32>, &str)> = vec![
        (b.iter().map(|x| -x).collect(), "sign flip"),
        (b.iter().map(|x| x * 8.0).collect(), "scale factor: ours is 8.000000 times"),
        (b.iter().map(|x| x + 0.5).collect(), "constant offset: ours is the reference plus 0.5"),
    ];
    for (ours, want) in cases {
        let (name, why) = first(t(&[3, 4], ours), t(&[3, 4], b.clone()));
        assert_eq!(name, "x");
        assert!(why.as_deref().unwrap_or("").starts_with(want), "{want}: got {why:?}");
    }
    // Transposed square blocks.
    let m: Vec<f32> = (0..9).map(|i| i as f32 * 1.3 - 2.0).collect();
    let tr: Vec<f32> = (0..9).map(|k| m[(k % 3) * 3 + k / 3]).collect();
    let (_, why) = first(t(&[3, 3], tr), t(&[3, 3], m.clone()));
    assert!(why.unwrap().starts_with("transposed"));
    // Rows in another order.
    let swapped: Vec<f32> = m[3..6].iter().chain(&m[0..3]).chain(&m[6..9]).copied().collect();
    let (_, why) = first(t(&[3, 3], swapped), t(&[3, 3], m));
    assert!(why.unwrap().starts_with("permuted rows"));
    // Features (last axis) in another order: interleaved vs half-split.
    let half_split = base();
    let interleaved: Vec<f32> = (0..12).map(|k| half_split[(k / 4) * 4 + [0, 2, 1, 3][k % 4]]).collect();
    let (_, why) = first(t(&[3, 4], interleaved), t(&[3, 4], half_split));
    assert!(why.unwrap().starts_with("permuted features"));
    // Attention rows that are uniform on one side (every key masked).
    let probs = vec![0.7f32, 0.2, 0.1, 0.5, 0.25, 0.25];
    let uniform = vec![0.7f32, 0.2, 0.1, 1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0];
    let (_, why) = first(t(&[2, 3], uniform), t(&[2, 3], probs));
    assert!(why.unwrap().contains("all-masked rows"));
}

#[test]
fn shapes_differing_by_unit_axes_compare_and_others_diverge() {
    let a = NamedTensors(vec![
        ("pos".into(), t(&[2, 3], base()[..6].to_vec())),
        ("bad".into(), t(&[6], base()[..6].to_vec())),
    ]);
    let b = NamedTensors(vec![
        ("pos".into(), t(&[1, 2, 3], base()[..6].to_vec())),
        ("bad".into(), t(&[5], base()[..5].to_vec())),
    ]);
    let c = compare(&a, &b, Tolerance::default());
    assert!(c.rows[0].agrees);
    assert_eq!(c.first_divergence.as_ref().unwrap().0, "bad");
}

/// A port that leaves out a module: its next tensor equals the reference's
/// tensor before the missing module, which is listed as unchecked.
#[test]
fn a_skipped_module_is_listed_and_recognised() {
    let layer: Vec<f32> = base();
    let normed: Vec<f32> = layer.iter().map(|x| (x - 0.6) * 1.7).collect();
    let reference = NamedTensors(vec![
        ("layers.0".into(), t(&[3, 4], layer.clone())),
        ("dropout".into(), t(&[3, 4], layer.clone())),
        ("norm".into(), t(&[3, 4], normed.clone())),
        ("out".into(), t(&[3, 4], normed)),
    ]);
    let ours = NamedTensors(vec![("layers.0".into(), t(&[3, 4], layer.clone())), ("out".into(), t(&[3, 4], layer))]);
    let c = compare(&ours, &reference, Tolerance::default());
    assert_eq!(c.unchecked_before_divergence, ["dropout", "norm"]);
    let (name, why) = c.first_divergence.clone().unwrap();
    assert_eq!(name, "out");
    assert_eq!(why.unwrap(), "ours equals the reference's `dropout`: the port skips what comes after it (norm)");
    assert!(c.to_string().contains("unchecked just before it (reference tensors ours lacks): dropout, norm"));
}
