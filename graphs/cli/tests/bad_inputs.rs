//! Bad input as a careless user gives it to the `wgraph` CLI: every case
//! must end within a time limit with the documented exit status (2 for bad
//! input) and a message naming the argument, tensor or limit; none may
//! hang, panic, answer silently or leave files behind.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
use fixtures::model;

#[path = "common/cli_run.rs"]
mod cli_run;

use cli_run::{wgraph_within, Outcome};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use wgraph::graph::NamedTensors;
use wgraph::weights::save_safetensors;
use wgraph::{DType, Tensor, Weights};

fn wgraph(args: &[&str]) -> Outcome {
    wgraph_within(Duration::from_secs(120), args)
}

/// Asserts exit status 2 and that stderr mentions every `needle`.
fn refused(out: &Outcome, needles: &[&str]) {
    assert_eq!(out.code, 2, "expected exit 2 (bad input); stderr: {}", out.stderr);
    for n in needles {
        assert!(out.stderr.contains(n), "stderr lacks {n:?}: {}", out.stderr);
    }
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn write_inputs(path: &Path, tensors: Vec<(&str, Tensor)>) {
    let named = NamedTensors(tensors.into_iter().map(|(n, t)| (n.to_string(), t)).collect());
    save_safetensors(path, &named, None).unwrap();
}

fn ids(seq: usize) -> Tensor {
    Tensor::new([1, seq], (0..seq as i64).map(|i| i % 7 + 1).collect::<Vec<_>>()).unwrap()
}

/// A copy of a fixture checkpoint whose config.json is `edit`ed.
fn edited_checkpoint(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let src = model(name);
    let dst = dir.join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for f in ["model.safetensors", "tokenizer.json"] {
        if src.join(f).exists() {
            std::fs::copy(src.join(f), dst.join(f)).unwrap();
        }
    }
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
    edit(&mut config);
    std::fs::write(dst.join("config.json"), serde_json::to_string_pretty(&config).unwrap()).unwrap();
    dst
}

#[test]
fn sequences_longer_than_the_learned_positions_or_empty_are_refused_by_every_command() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model("distilbert_classifier"); // max_position_embeddings 32
    let out = tmp.path().join("out.safetensors");
    for (seq, needles) in
        [(33, vec!["`seq` = 33", "at most 32", "max_position_embeddings = 32"]), (0, vec!["`seq` = 0", "at least 1"])]
    {
        let inputs = tmp.path().join(format!("seq{seq}.safetensors"));
        write_inputs(&inputs, vec![("input_ids", ids(seq))]);
        for cmd in ["run", "check", "find-nan"] {
            let mut args = vec![cmd, s(&model), "--inputs", s(&inputs)];
            if cmd == "run" {
                args.extend(["--output", s(&out)]);
            }
            refused(&wgraph(&args), &needles);
        }
        assert!(!out.exists(), "nothing is written for refused input");
    }
    // Exactly the table's size is fine, and matches a shorter run's shape.
    let inputs = tmp.path().join("seq32.safetensors");
    write_inputs(&inputs, vec![("input_ids", ids(32))]);
    let ok = wgraph(&["run", s(&model), "--inputs", s(&inputs), "--output", s(&out)]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
}

#[test]
fn inputs_of_the_wrong_rank_or_dtype_are_reported_as_they_are() {
    let tmp = tempfile::tempdir().unwrap();
    let model = model("distilbert_classifier");
    let out = tmp.path().join("out.safetensors");
    let rank0 = tmp.path().join("rank0.safetensors");
    write_inputs(&rank0, vec![("input_ids", Tensor::scalar(5i64))]);
    refused(
        &wgraph(&["run", s(&model), "--inputs", s(&rank0), "--output", s(&out)]),
        &["`input_ids` has rank 0", "expected rank 2"],
    );
    let f64_ids = tmp.path().join("f64.safetensors");
    write_inputs(&f64_ids, vec![("input_ids", Tensor::zeros(DType::F64, vec![1, 4]).unwrap())]);
    let o = wgraph(&["run", s(&model), "--inputs", s(&f64_ids), "--output", s(&out)]);
    refused(&o, &["dtype f64", "expected i64", "store it as i64"]);
    assert!(!o.stderr.contains("Tensor::cast"), "no Rust API in a CLI message: {}", o.stderr);
    // A directory where the inputs file should be.
    refused(&wgraph(&["run", s(&model), "--inputs", s(tmp.path()), "--output", s(&out)]), &["not a regular file"]);
}

#[test]
fn outputs_never_overwrite_inputs_and_land_together_or_not_at_all() {
    let tmp = tempfile::tempdir().unwrap();
    let model = edited_checkpoint(tmp.path(), "distilbert_classifier", |_| {});
    let inputs = tmp.path().join("in.safetensors");
    write_inputs(&inputs, vec![("input_ids", ids(5))]);
    let before = std::fs::read(&inputs).unwrap();
    let weights = model.join("model.safetensors");
    let out = tmp.path().join("out.safetensors");
    let (m, i) = (s(&model), s(&inputs));
    refused(&wgraph(&["run", m, "--inputs", i, "--output", i]), &["is the inputs file"]);
    refused(&wgraph(&["run", m, "--inputs", i, "--output", s(&weights)]), &["part of the checkpoint"]);
    refused(&wgraph(&["run", m, "--inputs", i, "--output", s(&out), "--dump", i]), &["is the inputs file"]);
    refused(&wgraph(&["run", m, "--inputs", i, "--output", s(&out), "--dump", s(&out)]), &["same file"]);
    assert_eq!(std::fs::read(&inputs).unwrap(), before);

    // The dump's directory does not exist: the outputs are not written either.
    let missing = tmp.path().join("no-such-dir").join("dump.safetensors");
    let o = wgraph(&["run", m, "--inputs", i, "--output", s(&out), "--dump", s(&missing)]);
    refused(&o, &["cannot write", "no-such-dir"]);
    assert!(!out.exists(), "--output and --dump land together or not at all");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn unwritable_output_paths_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    // A regular file where a directory should be: no user can write there.
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let under_file = file.join("program");
    let o = wgraph(&["dump", s(&model("bert_base")), "--compiled", s(&under_file)]);
    refused(&o, &["cannot write", "a-file"]);
    let inputs = model("bert_base").join("inputs.safetensors");
    let out = file.join("out.safetensors");
    let o = wgraph(&["run", s(&model("bert_base")), "--inputs", s(&inputs), "--output", s(&out)]);
    refused(&o, &["cannot write", "a-file/out.safetensors"]);
}

#[test]
fn tolerances_must_be_finite_and_non_finite_differences_still_plot() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.safetensors"), tmp.path().join("b.safetensors"));
    let t = |v: Vec<f32>| Tensor::new([v.len()], v).unwrap();
    wgraph::debug::write_dump(&a, &NamedTensors(vec![("x".into(), t(vec![1.0, f32::INFINITY, 2.0]))])).unwrap();
    wgraph::debug::write_dump(&b, &NamedTensors(vec![("x".into(), t(vec![1.0, 0.0, f32::NAN]))])).unwrap();
    for (flag, value) in [("--rtol", "NaN"), ("--atol", "-1"), ("--rtol", "inf")] {
        let arg = format!("{flag}={value}");
        refused(&wgraph(&["compare", s(&a), s(&b), &arg]), &[flag, "finite number >= 0"]);
    }
    let plot = tmp.path().join("plot.png");
    let o = wgraph_within(Duration::from_secs(60), &["compare", s(&a), s(&b), "--plot", s(&plot)]);
    assert_eq!(o.code, 1, "a divergence, plotted: {}", o.stderr);
    assert!(plot.metadata().unwrap().len() > 1000);
}

#[test]
fn check_blames_a_nan_input_not_a_kernel() {
    let tmp = tempfile::tempdir().unwrap();
    let inputs = tmp.path().join("nan.safetensors");
    let mut frames = vec![0.1f32; 80 * 3000];
    frames[17] = f32::NAN;
    write_inputs(&inputs, vec![("input_features", Tensor::new([1, 80, 3000], frames).unwrap())]);
    let o = wgraph(&["check", s(&model("whisper_tiny")), "--inputs", s(&inputs)]);
    refused(&o, &["`input_features` element 17 is NaN"]);
    assert!(!o.stdout.contains("compiler bug") && !o.stderr.contains("compiler bug"));
}

#[test]
fn absurd_layer_counts_are_refused_before_anything_is_built() {
    let tmp = tempfile::tempdir().unwrap();
    let model = edited_checkpoint(tmp.path(), "bert_base", |c| c["num_hidden_layers"] = 1_000_000_000.into());
    let o = wgraph_within(Duration::from_secs(20), &["check-weights", s(&model)]);
    refused(&o, &["`num_hidden_layers` is 1000000000", "at most 1024"]);
}

#[test]
fn shard_indexes_may_name_only_regular_files_inside_the_model_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let src = model("bert_base");
    let names: Vec<String> =
        Weights::open([src.join("model.safetensors")]).unwrap().names().map(String::from).collect();
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::copy(src.join("model.safetensors"), elsewhere.join("x.safetensors")).unwrap();
    let absolute = elsewhere.join("x.safetensors");
    for (i, shard) in ["../elsewhere/x.safetensors", absolute.to_str().unwrap(), "fifo.safetensors"].iter().enumerate()
    {
        let dir = tmp.path().join(format!("model{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(src.join("config.json"), dir.join("config.json")).unwrap();
        let map: serde_json::Map<String, serde_json::Value> =
            names.iter().map(|n| (n.clone(), serde_json::Value::from(*shard))).collect();
        let index = serde_json::json!({ "metadata": {}, "weight_map": map });
        std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
        if shard.starts_with("fifo") {
            let made = Command::new("mkfifo").arg(dir.join(shard)).status().unwrap();
            assert!(made.success());
            let o = wgraph_within(Duration::from_secs(20), &["check-weights", s(&dir)]);
            refused(&o, &["is not a regular file", "FIFO"]);
        } else {
            let o = wgraph_within(Duration::from_secs(20), &["check-weights", s(&dir)]);
            refused(&o, &[&format!("shard `{shard}`"), "relative path inside the model directory"]);
        }
    }
}

#[test]
fn generation_stops_at_the_models_context_and_says_so() {
    let model = model("llama_gqa"); // max_position_embeddings 64
    let o = wgraph_within(
        Duration::from_secs(300),
        &["generate", s(&model), "--input-ids", "1,2,3,4", "--max-new-tokens", "100000"],
    );
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("context is 64 positions") && o.stderr.contains("at most 60 new tokens"), "{}", o.stderr);
    let tokens = o.stdout.lines().next().unwrap().split(',').count();
    assert!(tokens <= 64, "{tokens} tokens: past the context");
    let too_long: Vec<String> = (0..65).map(|i| (i % 50 + 1).to_string()).collect();
    let o = wgraph(&["generate", s(&model), "--input-ids", &too_long.join(","), "--max-new-tokens", "1"]);
    refused(&o, &["the prompt has 65 tokens", "context is 64 positions"]);
}

#[test]
fn embed_names_what_it_needs_from_a_checkpoint_without_an_embedding_head() {
    let o = wgraph(&["embed", s(&model("distilbert_classifier")), "hello"]);
    refused(&o, &["needs a sentence-transformers BERT checkpoint", "model_type `distilbert`"]);
}

#[test]
fn embed_truncates_where_sentence_transformers_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let max = wgraph_models::embed::max_seq_length;
    assert_eq!(max(dir, 512).unwrap(), 512, "no config: the model's positions");
    std::fs::write(dir.join("tokenizer_config.json"), r#"{"model_max_length": 1000000000000000019884624838656}"#)
        .unwrap();
    assert_eq!(max(dir, 512).unwrap(), 512, "an unlimited tokenizer: the model's positions");
    std::fs::write(dir.join("tokenizer_config.json"), r#"{"model_max_length": 128}"#).unwrap();
    assert_eq!(max(dir, 512).unwrap(), 128);
    std::fs::write(dir.join("sentence_bert_config.json"), r#"{"max_seq_length": 256, "do_lower_case": false}"#)
        .unwrap();
    assert_eq!(max(dir, 512).unwrap(), 256, "sentence_bert_config.json decides");
    assert_eq!(max(dir, 64).unwrap(), 64, "never past the positions");
    std::fs::write(dir.join("sentence_bert_config.json"), r#"{"max_seq_length": "long"}"#).unwrap();
    assert!(max(dir, 512).unwrap_err().to_string().contains("max_seq_length"));
}

/// A change to a config.json.
type ConfigEdit = Box<dyn Fn(&mut serde_json::Value)>;

/// A DistilBERT classifier with two labels whose config says so in each way
/// transformers versions write it: transformers 5 leaves both keys out
/// (HF then defaults to 2 labels), transformers 4 writes `id2label` with
/// `LABEL_0`/`LABEL_1`, and hand-made configs often give only `num_labels`.
#[test]
fn two_label_classifiers_load_however_the_config_spells_the_default() {
    let tmp = tempfile::tempdir().unwrap();
    let src = model("distilbert_classifier");
    let w = Weights::open([src.join("model.safetensors")]).unwrap();
    let mut tensors = Vec::new();
    for name in w.names().map(String::from).collect::<Vec<_>>() {
        let t = w.read(&name).unwrap();
        let t = match name.as_str() {
            // Keep the first two classes.
            "classifier.weight" => {
                let d = t.shape()[1];
                Tensor::new([2, d], t.to_f32_vec()[..2 * d].to_vec()).unwrap()
            }
            "classifier.bias" => Tensor::new([2], t.to_f32_vec()[..2].to_vec()).unwrap(),
            _ => t,
        };
        tensors.push((name, t));
    }
    let v5 = |c: &mut serde_json::Value| {
        let o = c.as_object_mut().unwrap();
        for k in ["id2label", "label2id", "num_labels"] {
            o.remove(k);
        }
    };
    let variants: [(&str, ConfigEdit); 3] = [
        ("transformers5", Box::new(v5)),
        (
            "transformers4",
            Box::new(move |c: &mut serde_json::Value| {
                v5(c);
                c["id2label"] = serde_json::json!({"0": "LABEL_0", "1": "LABEL_1"});
                c["label2id"] = serde_json::json!({"LABEL_0": 0, "LABEL_1": 1});
            }),
        ),
        (
            "num_labels",
            Box::new(move |c: &mut serde_json::Value| {
                v5(c);
                c["num_labels"] = 2.into();
            }),
        ),
    ];
    for (name, edit) in variants {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(src.join("tokenizer.json"), dir.join("tokenizer.json")).unwrap();
        let mut config: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(src.join("config.json")).unwrap()).unwrap();
        edit(&mut config);
        std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
        save_safetensors(dir.join("model.safetensors"), &NamedTensors(tensors.clone()), None).unwrap();
        let o = wgraph(&["check-weights", s(&dir)]);
        assert_eq!(o.code, 0, "{name}: {}", o.stderr);
        let o = wgraph(&["classify", s(&dir), "a short text"]);
        assert_eq!(o.code, 0, "{name}: {}", o.stderr);
        assert!(o.stdout.contains("LABEL_0=") && o.stdout.contains("LABEL_1="), "{name}: {}", o.stdout);
    }
}
