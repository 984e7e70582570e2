//! `wgraph::debug::compare`: first divergence and its diagnosis, on
//! hand-made tensors whose relationship is known.

use wgraph::debug::{compare, Section, Tolerance};
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

/// A forward dump plus gradients: `x -> a -> b -> loss`, the gradient at
/// `b`, then at `a` (which also reads a skip path from `b`'s gradient).
fn training_dumps(grad_a_ours: Vec<f32>) -> (NamedTensors, NamedTensors) {
    let (g_b, g_a) = (grad_b(), reference_grad_a());
    let forward = vec![
        ("a".to_string(), t(&[3, 4], base())),
        ("b".to_string(), t(&[3, 4], base().iter().map(|x| x * 2.0).collect())),
        ("loss".to_string(), Tensor::scalar(0.5f32)),
    ];
    // Each file lists its gradients in a different order.
    let mut ours = forward.clone();
    ours.push(("grad/a".into(), t(&[3, 4], grad_a_ours)));
    ours.push(("grad/b".into(), t(&[3, 4], g_b.clone())));
    let mut reference = vec![("grad/b".to_string(), t(&[3, 4], g_b)), ("grad/a".into(), t(&[3, 4], g_a))];
    reference.extend(forward);
    (NamedTensors(ours), NamedTensors(reference))
}

fn grad_b() -> Vec<f32> {
    base().iter().map(|x| 0.1 * x).collect()
}

fn reference_grad_a() -> Vec<f32> {
    base().iter().zip(grad_b()).map(|(x, s)| 0.05 * x.cos() + s).collect()
}

#[test]
fn gradients_are_walked_in_backward_order_after_the_forward() {
    let (ours, reference) = training_dumps(reference_grad_a());
    let c = compare(&ours, &reference, Tolerance::default());
    let names: Vec<&str> = c.rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["a", "b", "loss", "grad/b", "grad/a"]);
    assert!(!c.diverged(), "{c}");
    assert!(c.to_string().contains("-- gradients, in backward order (from the loss towards the inputs) --\ngrad/b "));
}

#[test]
fn gradient_diagnoses_name_what_the_backward_lost() {
    let want = reference_grad_a();
    let g_b = grad_b();
    let mut rows_cut = want.clone();
    rows_cut[4..8].fill(0.0);
    let cases: Vec<(Vec<f32>, &str)> = vec![
        (vec![0.0; 12], "no gradient reaches it in ours"),
        (rows_cut, "1 of 3 rows (positions) get no gradient in ours"),
        (want.iter().zip(&g_b).map(|(a, s)| a - s).collect(), "ours is the reference minus the gradient at `grad/b`"),
        (want.iter().zip(&g_b).map(|(a, s)| a + s).collect(), "ours is the reference plus the gradient at `grad/b`"),
        (want.iter().map(|a| -a).collect(), "sign flip"),
    ];
    for (ours_a, why) in cases {
        let (ours, reference) = training_dumps(ours_a);
        let c = compare(&ours, &reference, Tolerance::default());
        let (name, got) = c.first_divergence.clone().expect("a divergence");
        assert_eq!((name.as_str(), c.divergence_section()), ("grad/a", Some(Section::Gradient)));
        assert!(got.as_deref().unwrap_or("").starts_with(why), "{why}: got {got:?}");
        assert_eq!(c.last_agreeing_gradient.as_deref(), Some("grad/b"));
        let text = c.to_string();
        assert!(text.contains("in the backward pass: all 3 forward values agree"), "{text}");
        assert!(text.contains("the backward of what reads `a` is wrong"), "{text}");
    }
}

#[test]
fn a_forward_divergence_comes_first_and_the_gradients_are_its_consequence() {
    let (mut ours, reference) = training_dumps(vec![0.0; 12]);
    ours.0[1].1 = t(&[3, 4], base());
    let c = compare(&ours, &reference, Tolerance::default());
    assert_eq!(c.first_divergence.as_ref().unwrap().0, "b");
    assert_eq!(c.divergence_section(), Some(Section::Forward));
    assert_eq!(c.first_gradient_divergence.as_ref().unwrap().0, "grad/a");
    assert!(c.to_string().contains("in the forward pass: every later value, the loss and the gradients follow"));
}

#[test]
fn forward_dumps_print_as_before() {
    let (ours, reference) = training_dumps(reference_grad_a());
    let forward =
        |d: &NamedTensors| NamedTensors(d.0.iter().filter(|(n, _)| !n.starts_with("grad/")).cloned().collect());
    let mut f = forward(&ours);
    f.0[0].1 = t(&[3, 4], base().iter().map(|x| -x).collect());
    let text = compare(&f, &forward(&reference), Tolerance::default()).to_string();
    assert!(
        text.ends_with("first divergence: a\n  diagnosis: sign flip: ours is the negation of the reference"),
        "{text}"
    );
    // Nor does a forward dump compared with a training dump miss gradients.
    let c = compare(&forward(&ours), &reference, Tolerance::default());
    assert!(!c.diverged() && c.rows_in(Section::Gradient) == 0, "{c}");
}

/// A gradient dump lacking a gradient for a module whose output it has:
/// the loss does not reach that output in ours' backward.
#[test]
fn a_gradient_ours_never_computes_compares_as_zeros() {
    let (mut ours, reference) = training_dumps(reference_grad_a());
    ours.0.retain(|(n, _)| n != "grad/a");
    let c = compare(&ours, &reference, Tolerance::default());
    let (name, why) = c.first_divergence.clone().unwrap();
    assert_eq!(name, "grad/a");
    assert!(why.unwrap().starts_with("no gradient reaches it in ours"));
    assert!(c.only_reference.is_empty(), "{:?}", c.only_reference);
}

/// Without forward values, a gradient off at the loss end could be a
/// forward bug: the output says so; one further back is the backward's.
/// (Gradient-only dumps are walked in ours' order: here backward order.)
#[test]
fn gradient_only_dumps_say_what_they_cannot_tell() {
    let only_gradients = |d: NamedTensors| {
        NamedTensors(["grad/b", "grad/a"].iter().map(|&n| (n.to_string(), d.get(n).unwrap().clone())).collect())
    };
    let (mut ours, reference) = training_dumps(reference_grad_a());
    ours.0[4].1 = t(&[3, 4], grad_b().iter().map(|x| x * 2.0).collect());
    let text = compare(&only_gradients(ours), &only_gradients(reference.clone()), Tolerance::default()).to_string();
    assert!(
        text.contains("first divergence: grad/b\n") && text.contains("at its start, with no forward values"),
        "{text}"
    );
    let (ours, _) = training_dumps(vec![0.0; 12]);
    let text = compare(&only_gradients(ours), &only_gradients(reference), Tolerance::default()).to_string();
    assert!(text.contains("no forward values compared to confirm the forward agrees"), "{text}");
}
