//! The training doctor on the reversal bug zoo: each deliberate mistake is
//! named within the doctor's first 50 steps, over different seeds, lengths
//! and vocabularies; a correct model gets a clean bill of health.

use std::sync::OnceLock;
use wgraph::train::doctor::{Finding, Scale};
use wgraph::Device;
use wgraph_models::reversal::{self, Bug, ReversalConfig, TrainOptions};

fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| Device::new().unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}")))
}

/// The doctor's findings for a small model with `bug`, over 50 steps.
fn findings(bug: Option<Bug>, seed: u64, seq_len: usize, vocab: usize) -> Vec<Finding> {
    let mut cfg = ReversalConfig::new(seq_len, vocab);
    (cfg.d_model, cfg.layers, cfg.heads, cfg.ff, cfg.bug) = (32, 1, 2, 64, bug);
    let options = TrainOptions { seed, batch: 32, ..TrainOptions::default() };
    let diagnosis = reversal::diagnose(device(), &cfg, &options, 50).unwrap_or_else(|e| panic!("{bug:?}: {e}"));
    for line in diagnosis.lines() {
        eprintln!("{bug:?} seed {seed}: {line}");
        assert!(line.starts_with("doctor: "), "{line}");
    }
    diagnosis.findings
}

#[test]
fn a_correct_model_has_no_fault() {
    let found = findings(None, 7, 9, 12);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_positional_embedding_never_added_does_not_reach_the_loss() {
    let found = findings(Some(Bug::NoPositions), 1, 8, 10);
    assert!(found.contains(&Finding::Unreachable { param: "pos_emb.weight".into() }), "{found:#?}");
    let line = found.iter().find(|f| matches!(f, Finding::Unreachable { .. })).unwrap().to_string();
    assert!(line.starts_with("doctor: parameter `pos_emb.weight` does not reach the loss"), "{line}");
}

#[test]
fn a_causal_mask_leaves_outputs_blind_to_later_inputs() {
    let len = 10;
    let found = findings(Some(Bug::CausalMask), 2, len, 16);
    let want = Finding::Blind { output: 0, from: 1, to: len - 1, positions: len };
    assert!(found.contains(&want), "{found:#?}");
    assert_eq!(
        want.to_string(),
        format!("doctor: output position 0 does not depend on input positions 1..{} (a causal mask?)", len - 1)
    );
}

#[test]
fn an_embedding_left_out_of_the_optimizer_is_not_updated() {
    let found = findings(Some(Bug::FrozenEmbedding), 3, 7, 20);
    assert!(found.contains(&Finding::Frozen { param: "tok_emb.weight".into() }), "{found:#?}");
}

#[test]
fn a_tiny_learning_rate_shows_in_the_update_ratios() {
    let found = findings(Some(Bug::TinyLr), 4, 12, 8);
    assert!(found.iter().any(|f| matches!(f, Finding::UpdateRatio { scale: Scale::TooSmall, .. })), "{found:#?}");
    assert!(found.iter().any(|f| matches!(f, Finding::LossFlat { .. })), "{found:#?}");
}

#[test]
fn a_huge_learning_rate_is_named() {
    let found = findings(Some(Bug::HugeLr), 5, 6, 32);
    assert!(
        found
            .iter()
            .any(|f| matches!(f, Finding::UpdateRatio { scale: Scale::TooLarge, .. } | Finding::NonFinite { .. })),
        "{found:#?}"
    );
}

#[test]
fn dead_relus_and_the_zero_gradients_behind_them() {
    let found = findings(Some(Bug::DeadRelu), 6, 14, 9);
    assert!(
        found.iter().any(|f| matches!(f, Finding::DeadActivation { node, .. } if node == "layers.0.act")),
        "{found:#?}"
    );
    assert!(found.contains(&Finding::ZeroGradient { param: "layers.0.ff1.weight".into(), rows: None }), "{found:#?}");
}
