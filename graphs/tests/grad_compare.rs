//! The bug zoo on the gradient side: each bug seeded into a small
//! DistilBERT classifier or LLaMA causal LM with a PyTorch reference of
//! every module output and the gradient with respect to it
//! (graphs/tests/fixtures/grads/hf/*/torch_grads_dump.safetensors, from
//! `tools/torch_dump.py --grads`), run as `wgraph grad --dump` runs it and
//! compared with `compare`.
//!
//! A forward bug is named at its module, in the forward section: from there
//! on every activation, the loss and every gradient differ, so the forward
//! values are what locates it, and the first gradient off (at the loss end)
//! is reported as its consequence. A backward-only bug (a detached value)
//! leaves the forward alone and is named in the gradient section, at the
//! first gradient in backward order it changes.

#[path = "common/bugs.rs"]
mod bugs;
mod common;
#[path = "common/fixtures.rs"]
mod fixtures;
#[path = "common/grads.rs"]
mod grads;

use bugs::{detach, distilbert_attention_bugs, no_edit, softmax_over_queries, transpose_square, Bug, DETACHED};
use common::device;
use grads::{fixture, read_all};
use wgraph::debug::{compare, read_dump, Comparison, Section, Tolerance};
use wgraph::graph::Ir;
use wgraph::{CompileOptions, Graph, Loader, NamedTensors, Tensor, Weights};
use wgraph_models::grad::gradient_graph;
use wgraph_models::zoo::{self, LoadedGraph};

fn reference(model: &str) -> NamedTensors {
    read_dump(fixture(model).join("torch_grads_dump.safetensors")).unwrap()
}

/// `wgraph grad --dump` on the bugged port: module outputs and the
/// gradients with respect to them.
fn bugged_dump(model: &str, bug: &Bug) -> NamedTensors {
    let dir = fixture(model);
    let tmp = tempfile::tempdir().unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    (bug.config)(&mut config);
    std::fs::write(tmp.path().join("config.json"), config.to_string()).unwrap();
    let mut inputs = read_all(&dir.join("inputs.safetensors"));
    (bug.inputs)(&mut inputs);
    let labels = inputs.iter().find(|(n, _)| n == "labels").unwrap().1.dtype();
    let loaded = zoo::load_with_loss(tmp.path(), labels).unwrap();
    let mut ir = loaded.graph.ir().unwrap().clone();
    (bug.graph)(&mut ir);
    let grads = gradient_graph(LoadedGraph { graph: Graph::from_ir(ir), ..loaded }).unwrap();
    let mut tensors = read_all(&dir.join("model.safetensors"));
    (bug.weights)(&mut tensors);
    let options = CompileOptions { taps: grads.dump_taps(), ..Default::default() };
    let model_ = Loader::new(device())
        .with_options(options)
        .load(&grads.graph, &Weights::from_tensors(tensors))
        .unwrap_or_else(|e| panic!("{model}, {}: {e}", bug.what));
    let (outputs, tapped) = model_.run_with_taps(inputs).unwrap();
    grads.dump(&outputs, &tapped)
}

fn run_bugged(model: &str, bug: &Bug) -> Comparison {
    compare(&bugged_dump(model, bug), &reference(model), Tolerance::default())
}

/// Asserts the first divergence is one of the bug's modules, in `section`.
fn assert_named(model: &str, bug: &Bug, section: Section, result: &Comparison) {
    let text = result.to_string();
    let (name, why) =
        result.first_divergence.clone().unwrap_or_else(|| panic!("{model}, {}: no divergence found\n{text}", bug.what));
    assert!(
        bug.expect.contains(&name.as_str()) && result.divergence_section() == Some(section),
        "{model}, {}: compare named `{name}` ({why:?}), expected one of {:?} in the {section:?} pass\n{text}",
        bug.what,
        bug.expect
    );
}

/// Forward bugs: named at their module in the forward section; the
/// gradients all follow, starting at the loss end.
fn check_forward_bugs(model: &str, bugs: &[Bug]) {
    let clean = run_bugged(model, &Bug::graph("none", no_edit, &[]));
    assert!(!clean.diverged(), "{model} without bugs diverges:\n{clean}");
    assert!(clean.rows_in(Section::Gradient) > 10, "{model}: gradients are compared\n{clean}");
    for bug in bugs {
        let result = run_bugged(model, bug);
        assert_named(model, bug, Section::Forward, &result);
        let (first_gradient, _) = result.first_gradient_divergence.clone().expect("the gradients follow");
        assert!(
            result.last_agreeing_gradient.is_none(),
            "{}: every gradient differs, from `{first_gradient}`",
            bug.what
        );
        assert!(result.to_string().contains("in the forward pass"), "{result}");
    }
}

#[test]
fn distilbert_forward_bugs_are_found_where_they_are_in_a_gradient_dump() {
    let mut zoo = distilbert_attention_bugs();
    zoo.push(Bug::graph(
        "wrong LayerNorm epsilon",
        |ir| bugs::layer_norm_eps(ir, "distilbert.transformer.layer.1.output_layer_norm", 0.5),
        &["distilbert.transformer.layer.1.output_layer_norm", "distilbert.transformer.layer.1"],
    ));
    check_forward_bugs("distilbert_seqcls", &zoo);
}

#[test]
fn llama_forward_bugs_are_found_where_they_are_in_a_gradient_dump() {
    check_forward_bugs(
        "llama_gqa_lm",
        &[
            Bug::config(
                "wrong RMSNorm epsilon",
                |c| c["rms_norm_eps"] = serde_json::json!(0.5),
                &["model.layers.0.input_layernorm"],
            ),
            Bug::config(
                "wrong rope_theta",
                |c| c["rope_parameters"]["rope_theta"] = serde_json::json!(500.0),
                &["model.rotary_emb"],
            ),
            Bug::config(
                "RoPE interleaved instead of half-split",
                |c| c["rope_traditional"] = serde_json::json!(true),
                &["model.rotary_emb"],
            ),
            Bug::weights(
                "an attention output Linear read transposed",
                |t| transpose_square(t, "model.layers.1.self_attn.o_proj.weight"),
                &["model.layers.1.self_attn.o_proj", "model.layers.1.self_attn"],
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

/// Feeds [`DETACHED`] with the reference's forward value of `module`.
fn feed_detached(inputs: &mut Vec<(String, Tensor)>, module: &str) {
    let value = reference("distilbert_seqcls").get(module).unwrap().clone();
    inputs.push((DETACHED.into(), value));
}

/// Layer 1 adds its input to the attention output through a detached copy:
/// the skip path carries no gradient back.
fn detached_residual(ir: &mut Ir) {
    let norm = ir.find_named("distilbert.transformer.layer.1.sa_layer_norm").unwrap();
    let add = ir.operands(norm)[0];
    let input = ir.find_named("distilbert.transformer.layer.0").unwrap();
    detach(ir, input, &[add]);
}

/// The transformer reads a detached copy of the embeddings: no gradient
/// reaches them or their weights. (The embeddings stay an output, so they
/// are still computed, as PyTorch computes a tensor before detaching it.)
fn detached_embeddings(ir: &mut Ir) {
    let embeddings = ir.find_named("distilbert.embeddings").unwrap();
    let readers = ir.users(embeddings);
    detach(ir, embeddings, &readers);
    ir.outputs.push(("embeddings".into(), embeddings));
}

/// Backward-only bugs: the forward agrees everywhere, and the first
/// gradient off in backward order is the output whose readers' backward
/// lost a path; the diagnosis says which.
#[test]
fn backward_only_bugs_are_named_at_the_first_gradient_they_change() {
    let model = "distilbert_seqcls";
    let residual = Bug {
        inputs: |i| feed_detached(i, "distilbert.transformer.layer.0"),
        ..Bug::graph(
            "residual input detached in layer 1",
            detached_residual,
            &["grad/distilbert.transformer.layer.0", "grad/distilbert.transformer.layer.0.output_layer_norm"],
        )
    };
    let result = run_bugged(model, &residual);
    assert_named(model, &residual, Section::Gradient, &result);
    let why = result.first_divergence.clone().unwrap().1.unwrap_or_default();
    assert!(
        why.starts_with("ours is the reference minus the gradient at `grad/distilbert.transformer.layer.1.attention"),
        "{result}"
    );
    assert_eq!(result.last_agreeing_gradient.as_deref(), Some("grad/distilbert.transformer.layer.1.attention.q_lin"));
    assert!(result.to_string().contains("in the backward pass: all "), "{result}");
    // The same whatever order the files list their gradients in.
    let gradients_reversed = |d: NamedTensors| {
        let (forward, mut gradients): (Vec<_>, Vec<_>) =
            d.into_iter().partition(|(n, _)| Section::of(n) == Section::Forward);
        gradients.reverse();
        NamedTensors(forward.into_iter().chain(gradients).collect())
    };
    let shuffled = compare(
        &gradients_reversed(bugged_dump(model, &residual)),
        &gradients_reversed(reference(model)),
        Tolerance::default(),
    );
    assert_eq!(shuffled.first_divergence, result.first_divergence);

    let embeddings = Bug {
        inputs: |i| feed_detached(i, "distilbert.embeddings"),
        ..Bug::graph(
            "embeddings detached",
            detached_embeddings,
            &["grad/distilbert.embeddings", "grad/distilbert.embeddings.LayerNorm"],
        )
    };
    let result = run_bugged(model, &embeddings);
    assert_named(model, &embeddings, Section::Gradient, &result);
    let why = result.first_divergence.clone().unwrap().1.unwrap_or_default();
    assert!(why.starts_with("no gradient reaches it in ours"), "{result}");
}

/// With only the loss and the gradients (an older dump, or one written by
/// other tools), a forward bug cannot be located: the loss differs and the
/// output says to compare module outputs.
#[test]
fn a_gradient_only_dump_says_a_forward_bug_needs_forward_values() {
    let model = "distilbert_seqcls";
    let bug = Bug::weights(
        "a Linear weight read transposed",
        |t| transpose_square(t, "distilbert.transformer.layer.0.attention.out_lin.weight"),
        &["loss"],
    );
    let gradients_only = |d: NamedTensors| {
        NamedTensors(d.into_iter().filter(|(n, _)| n == "loss" || Section::of(n) == Section::Gradient).collect())
    };
    let ours = gradients_only(bugged_dump(model, &bug));
    let result = compare(&ours, &gradients_only(reference(model)), Tolerance::default());
    assert_named(model, &bug, Section::Forward, &result);
    assert!(result.to_string().contains("the loss is the only forward value compared"), "{result}");
}
