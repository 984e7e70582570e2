//! `wgraph diff` names what separates the correct reversal model from each
//! structural bug of the zoo, and finds nothing between a model and itself
//! or a bug that is not structural.

use std::path::Path;
use std::process::Command;
use wgraph::debug::{diff_graphs, Difference, GraphDump};
use wgraph_models::reversal::{build, Bug, ReversalConfig};

fn dump(bug: Option<Bug>) -> String {
    let mut cfg = ReversalConfig::new(9, 12);
    cfg.bug = bug;
    let g = build(&cfg).graph;
    let json = wgraph::graph::dump_json(&g.ir_unchecked());
    json
}

fn differences(bug: Option<Bug>) -> Vec<Difference> {
    let good = GraphDump::parse(&dump(None)).unwrap();
    let bad = GraphDump::parse(&dump(bug)).unwrap();
    diff_graphs(&good, &bad)
}

#[test]
fn the_same_computation_has_no_difference() {
    assert_eq!(differences(None), vec![]);
    // Frozen weights and learning rates do not change the graph.
    assert_eq!(differences(Some(Bug::FrozenEmbedding)), vec![]);
    assert_eq!(differences(Some(Bug::TinyLr)), vec![]);
}

#[test]
fn a_missing_positional_embedding_is_an_add_only_in_the_correct_graph() {
    let found = differences(Some(Bug::NoPositions));
    assert!(
        found.iter().any(
            |d| matches!(d, Difference::OnlyInA(n) if n.op == "add" && n.names.contains(&"embeddings".to_string()))
        ),
        "{found:#?}"
    );
}

#[test]
fn a_causal_mask_is_a_band_mask_only_in_the_buggy_graph() {
    let found = differences(Some(Bug::CausalMask));
    let mask = found.iter().find_map(|d| match d {
        Difference::OnlyInB(n) if n.op == "band_mask" => Some(n),
        _ => None,
    });
    let mask = mask.unwrap_or_else(|| panic!("{found:#?}"));
    assert!(mask.attrs.contains(&("after".to_string(), "0".to_string())), "{mask:?}");
}

#[test]
fn a_relu_for_a_gelu_is_a_changed_op() {
    let found = differences(Some(Bug::DeadRelu));
    assert!(
        found.iter().any(|d| matches!(d, Difference::Changed { a, b } if a.op == "gelu" && b.op == "relu")),
        "{found:#?}"
    );
}

#[test]
fn the_cli_prints_the_differences_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let (good, bad) = (dir.path().join("good.json"), dir.path().join("bad.json"));
    std::fs::write(&good, dump(None)).unwrap();
    std::fs::write(&bad, dump(Some(Bug::DeadRelu))).unwrap();
    let run =
        |a: &Path, b: &Path| Command::new(env!("CARGO_BIN_EXE_wgraph")).arg("diff").arg(a).arg(b).output().unwrap();
    let out = run(&good, &bad);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("changed: A `layers.0.act` = gelu"), "{text}");
    assert!(text.contains("B `layers.0.act` = relu"), "{text}");
    let same = run(&good, &good);
    assert_eq!(same.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&same.stdout).contains("no structural difference"));
    let missing = run(&good, &dir.path().join("nope.json"));
    assert_eq!(missing.status.code(), Some(2));
}
