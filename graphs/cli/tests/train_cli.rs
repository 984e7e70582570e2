//! `wgraph train`, run as a user would, against PyTorch fine-tuning
//! trajectories (graphs/tests/fixtures/train, made by
//! graphs/tests/fixtures/train/generate.py): every step's loss within 1e-4
//! relative, every final parameter within 1e-4 of its scale, the output
//! directory loadable by `wgraph run` and `wgraph classify`; and bad input
//! refused with exit status 2 before any work.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
use fixtures::fixture;

#[path = "common/cli_run.rs"]
mod cli_run;

use cli_run::wgraph;
use std::path::{Path, PathBuf};
use wgraph::weights::save_safetensors;
use wgraph::{NamedTensors, Tensor, Weights};

fn read_all(path: &Path) -> Vec<(String, Tensor)> {
    let w = Weights::open([path]).unwrap();
    let names: Vec<String> = w.names().map(String::from).collect();
    names.into_iter().map(|n| (n.clone(), w.read(&n).unwrap())).collect()
}

fn get<'a>(tensors: &'a [(String, Tensor)], name: &str) -> &'a Tensor {
    &tensors.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no `{name}`")).1
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn max_abs(v: &[f64]) -> f64 {
    v.iter().map(|x| x.abs()).fold(0.0, f64::max)
}

/// The fixture's `wgraph train` flags and the optimizer they name.
fn case(name: &str) -> (Vec<String>, String) {
    let text = std::fs::read_to_string(fixture("train").join(name).join("case.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let args = json["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_string()).collect();
    let optimizer = json["torch"]["optimizer"].as_str().unwrap_or("adamw").to_string();
    (args, optimizer)
}

/// Runs `wgraph train` on a fixture into `out` and checks the printed
/// losses and the written checkpoint against PyTorch. Returns the worst
/// loss and parameter errors.
fn train_matches_pytorch(name: &str, out: &Path, extra: &[&str]) -> (f64, f64) {
    let dir = fixture("train").join(name);
    let (flags, optimizer) = case(name);
    let batches = dir.join("batches.safetensors");
    let mut args = vec!["train", s(&dir), "--inputs", s(&batches), "--output", s(out)];
    args.extend(flags.iter().map(String::as_str));
    args.extend(extra);
    let (code, stdout, stderr) = wgraph(&args);
    assert_eq!(code, 0, "{name}: {stderr}");

    let reference = read_all(&dir.join("reference.safetensors"));
    let want_losses = get(&reference, "loss").to_f64_vec();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), want_losses.len(), "{name}: one line per step: {stdout}");
    let mut worst_loss = 0.0f64;
    for (i, (line, want)) in lines.iter().zip(&want_losses).enumerate() {
        let words: Vec<&str> = line.split(' ').collect();
        assert_eq!(words.len(), 4, "{name}: `{line}`");
        assert_eq!((words[0], words[1], words[2]), ("step", (i + 1).to_string().as_str(), "loss"), "{line}");
        let loss: f64 = words[3].parse().unwrap();
        let rel = (loss - want).abs() / want.abs();
        assert!(rel <= 1e-4, "{name}: step {} loss {loss}, PyTorch {want}", i + 1);
        worst_loss = worst_loss.max(rel);
    }

    // Every tensor the checkpoint stores, under its name, and nothing else.
    let written = read_all(&out.join("model.safetensors"));
    let mut names: Vec<&str> = written.iter().map(|(n, _)| n.as_str()).collect();
    let original = Weights::from_dir(&dir).unwrap();
    let mut stored: Vec<&str> = original.names().collect();
    names.sort();
    stored.sort();
    assert_eq!(names, stored, "{name}");

    // Scale: the tensor's max magnitude, floored at the model's largest
    // parameter for Adam(W), at 1e-3 of it for SGD (see generate.py's
    // param_errors: Adam turns gradients at rounding level into steps of
    // up to lr, in PyTorch's own float32 as in ours; SGD is linear).
    let params: Vec<&(String, Tensor)> = reference.iter().filter(|(n, _)| n != "loss" && n != "logits").collect();
    let model_max = params.iter().map(|(_, t)| max_abs(&t.to_f64_vec())).fold(0.0, f64::max);
    let floor = if optimizer == "sgd" { 1e-3 * model_max } else { model_max };
    let mut worst = (0.0f64, String::new());
    for (key, want) in params {
        let got = get(&written, key);
        assert_eq!(got.shape(), want.shape(), "{name}: `{key}`");
        let (g, w) = (got.to_f64_vec(), want.to_f64_vec());
        let diff = g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        let scale = max_abs(&w).max(floor);
        let rel = diff / scale;
        assert!(rel <= 1e-4, "{name}: `{key}` differs from PyTorch by {diff:e} ({rel:e} of {scale:e})");
        if rel > worst.0 {
            worst = (rel, key.clone());
        }
    }
    eprintln!("{name}: worst loss error {worst_loss:.2e}, worst parameter error {:.2e} (`{}`)", worst.0, worst.1);

    // config.json verbatim, companion files copied, no temporary directory left.
    let config = |d: &Path| std::fs::read(d.join("config.json")).unwrap();
    assert_eq!(config(out), config(&dir), "{name}: config.json");
    for file in ["tokenizer.json", "generation_config.json"] {
        assert_eq!(dir.join(file).is_file(), out.join(file).is_file(), "{name}: {file}");
    }
    let parent = out.parent().unwrap();
    let leftovers: Vec<String> = std::fs::read_dir(parent)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("wgraph-tmp") || n.contains("wgraph-old"))
        .collect();
    assert!(leftovers.is_empty(), "{name}: left behind {leftovers:?}");
    (worst_loss, worst.0)
}

/// `wgraph run OUT_DIR` gives the trained model's logits (PyTorch's, after
/// the same steps) on the fixture's first batch.
fn run_matches_trained_logits(name: &str, out: &Path) {
    let dir = fixture("train").join(name);
    let logits = out.parent().unwrap().join(format!("{name}_logits.safetensors"));
    let (code, _, err) =
        wgraph(&["run", s(out), "--inputs", s(&dir.join("eval_inputs.safetensors")), "--output", s(&logits)]);
    assert_eq!(code, 0, "{name}: wgraph run on the trained directory: {err}");
    let got = get(&read_all(&logits), "logits").to_f64_vec();
    let want = get(&read_all(&dir.join("reference.safetensors")), "logits").to_f64_vec();
    let diff = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
    assert!(diff <= 1e-4 * max_abs(&want).max(1.0), "{name}: logits of the trained model differ by {diff:e}");
}

#[test]
fn distilbert_adamw_defaults_match_pytorch_and_the_output_runs_and_classifies() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("trained");
    train_matches_pytorch("distilbert_adamw", &out, &[]);
    run_matches_trained_logits("distilbert_adamw", &out);

    // The tokenizer came along: classify prints the trained model's probabilities.
    let dir = fixture("train/distilbert_adamw");
    let bytes = std::fs::read(dir.join("classify.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let texts: Vec<String> = serde_json::from_str(&meta.metadata().as_ref().unwrap()["texts"]).unwrap();
    let probs = get(&read_all(&dir.join("classify.safetensors")), "probs").to_f32_vec();
    let mut args = vec!["classify", s(&out)];
    args.extend(texts.iter().map(String::as_str));
    let (code, stdout, err) = wgraph(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stdout.lines().count(), texts.len(), "{stdout}");
    for (i, line) in stdout.lines().enumerate() {
        for (j, label) in ["negative", "neutral", "positive"].iter().enumerate() {
            let key = format!("{label}=");
            let at = line.find(&key).unwrap_or_else(|| panic!("{line}")) + key.len();
            let printed: f32 = line[at..at + 5].parse().unwrap();
            assert!((printed - probs[i * 3 + j]).abs() < 6e-4, "{line}: PyTorch says {label} {}", probs[i * 3 + j]);
        }
    }
}

#[test]
fn llama_adamw_cosine_on_one_batch_matches_pytorch() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("trained");
    train_matches_pytorch("llama_adamw_cosine", &out, &[]);
    run_matches_trained_logits("llama_adamw_cosine", &out);
}

/// SGD with momentum, clipping and warmup on a tied LLaMA whose checkpoint
/// stores the embedding under both names; OUT_DIR exists with a stale file
/// and --force replaces it.
#[test]
fn llama_tied_sgd_clipped_warmup_matches_pytorch_and_force_replaces_the_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("trained");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("stale.txt"), "from an earlier run").unwrap();
    train_matches_pytorch("llama_tied_sgd", &out, &["--force"]);
    assert!(!out.join("stale.txt").exists(), "--force replaces the directory");
    let written = read_all(&out.join("model.safetensors"));
    assert_eq!(
        get(&written, "lm_head.weight").to_f32_vec(),
        get(&written, "model.embed_tokens.weight").to_f32_vec(),
        "a tied weight is written under both stored names with one value"
    );
    run_matches_trained_logits("llama_tied_sgd", &out);
}

/// generate.py --wgraph loaded each directory `wgraph train` wrote with HF
/// `from_pretrained`: no missing, unexpected or mismatched keys.
#[test]
fn hf_from_pretrained_loaded_the_wgraph_outputs() {
    let text = std::fs::read_to_string(fixture("train/hf_load_check.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    for name in ["distilbert_adamw", "llama_adamw_cosine", "llama_tied_sgd"] {
        let c = &json[name];
        assert_eq!(c["from_pretrained_loaded"], true, "{name}");
        for keys in ["missing_keys", "unexpected_keys", "mismatched_keys"] {
            assert_eq!(c[keys].as_array().map(Vec::len), Some(0), "{name}: {keys}: {}", c[keys]);
        }
        assert!(c["max_param_error"].as_f64().unwrap() <= 1e-4, "{name}: {}", c["max_param_error"]);
        assert!(c["logits_max_abs_diff"].as_f64().unwrap() <= 1e-4, "{name}: {}", c["logits_max_abs_diff"]);
    }
}

#[test]
fn train_help_documents_the_steps_axis_and_the_output_directory() {
    let (code, out, _) = wgraph(&["train", "--help"]);
    assert_eq!(code, 0);
    for needle in ["Usage: wgraph train", "one more leading axis", "(I - 1) mod S", "--force", "--clip-norm"] {
        assert!(out.contains(needle), "`{needle}` not in:\n{out}");
    }
}

// Bad input: exit status 2, a message naming the problem, nothing written.

/// `wgraph train` on the DistilBERT fixture with these batches and output.
fn train_with(batches: &Path, out: &Path, extra: &[&str]) -> (i32, String) {
    let dir = fixture("train/distilbert_adamw");
    let mut args = vec!["train", s(&dir), "--inputs", s(batches), "--output", s(out), "--steps", "2"];
    args.extend(extra);
    let (code, stdout, stderr) = wgraph(&args);
    assert!(stdout.is_empty(), "nothing trained: {stdout}");
    (code, stderr)
}

fn refused(batches: &Path, out: &Path, extra: &[&str], needles: &[&str]) {
    let (code, err) = train_with(batches, out, extra);
    assert_eq!(code, 2, "{err}");
    for needle in needles {
        assert!(err.contains(needle), "`{needle}` not in: {err}");
    }
    let parent = out.parent().unwrap();
    if parent.is_dir() {
        for e in std::fs::read_dir(parent).unwrap() {
            let n = e.unwrap().file_name().to_string_lossy().to_string();
            assert!(!n.contains("wgraph-tmp"), "left behind {n}");
        }
    }
}

/// The fixture's batches with `edit` applied, written to `dir/name`.
fn batches_with(dir: &Path, name: &str, edit: impl FnOnce(&mut Vec<(String, Tensor)>)) -> PathBuf {
    let mut tensors = read_all(&fixture("train/distilbert_adamw").join("batches.safetensors"));
    edit(&mut tensors);
    let path = dir.join(name);
    save_safetensors(&path, &NamedTensors(tensors), None).unwrap();
    path
}

/// The first `n` slices of `t` along its first axis.
fn leading(t: &Tensor, n: usize) -> Tensor {
    let bytes = t.to_le_bytes();
    let per = bytes.len() / t.shape()[0];
    let mut shape = t.shape().to_vec();
    shape[0] = n;
    Tensor::from_le_bytes(t.dtype(), shape, &bytes[..n * per]).unwrap()
}

#[test]
fn missing_labels_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let b = batches_with(tmp.path(), "b.safetensors", |t| t.retain(|(n, _)| n != "labels"));
    refused(&b, &tmp.path().join("out"), &[], &["has no `labels`", "input_ids", "attention_mask"]);
    assert!(!tmp.path().join("out").exists());
}

#[test]
fn a_steps_axis_of_different_lengths_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let b = batches_with(tmp.path(), "b.safetensors", |t| {
        let labels = t.iter_mut().find(|(n, _)| n == "labels").unwrap();
        labels.1 = leading(&labels.1, 2);
    });
    refused(&b, &tmp.path().join("out"), &[], &["steps axis does not match", "3 batches", "`labels` holds 2"]);
}

#[test]
fn a_steps_axis_on_some_tensors_only_is_ambiguous() {
    let tmp = tempfile::tempdir().unwrap();
    let b = batches_with(tmp.path(), "b.safetensors", |t| {
        let mask = t.iter_mut().find(|(n, _)| n == "attention_mask").unwrap();
        let first = leading(&mask.1, 1);
        let shape = first.shape()[1..].to_vec();
        mask.1 = first.reshape(shape).unwrap();
    });
    refused(&b, &tmp.path().join("out"), &[], &["ambiguous steps axis", "input_ids", "attention_mask"]);
}

#[test]
fn labels_without_the_steps_axis_of_the_inputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let b = batches_with(tmp.path(), "b.safetensors", |t| {
        let labels = t.iter_mut().find(|(n, _)| n == "labels").unwrap();
        labels.1 = Tensor::new([4], vec![0i64, 1, 2, 0]).unwrap();
    });
    refused(&b, &tmp.path().join("out"), &[], &["`labels` has shape [4]", "rank 2", "steps axis"]);
}

#[test]
fn class_ids_out_of_range_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let b = batches_with(tmp.path(), "b.safetensors", |t| {
        let labels = t.iter_mut().find(|(n, _)| n == "labels").unwrap();
        labels.1 = Tensor::new([3, 4], vec![0i64, 1, 2, 0, 1, 7, 2, 0, 1, 1, 1, 1]).unwrap();
    });
    refused(&b, &tmp.path().join("out"), &[], &["`labels` element 5 is 7", "0..3"]);
}

#[test]
fn an_unwritable_output_is_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let batches = fixture("train/distilbert_adamw").join("batches.safetensors");
    let file = tmp.path().join("a_file");
    std::fs::write(&file, "not a directory").unwrap();
    refused(&batches, &file.join("out"), &[], &["--output", "cannot create its parent directory"]);
    refused(&batches, &file, &[], &["exists and is not a directory"]);
    refused(&batches, &file, &["--force"], &["exists and is not a directory"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a directory");
}

#[test]
fn the_model_directory_as_output_is_refused_even_with_force() {
    let dir = fixture("train/distilbert_adamw");
    let batches = dir.join("batches.safetensors");
    refused(&batches, &dir, &["--force"], &["is the model directory", "refusing to overwrite"]);
    // Spelled differently.
    let other = dir.join("..").join("distilbert_adamw").join(".");
    refused(&batches, &other, &[], &["is the model directory"]);
    // A directory holding the model.
    refused(&batches, dir.parent().unwrap(), &["--force"], &["contains the model directory"]);
}

#[test]
fn an_existing_non_empty_output_is_kept_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    refused(&fixture("train/distilbert_adamw").join("batches.safetensors"), &out, &[], &["is not empty", "--force"]);
    assert_eq!(std::fs::read_to_string(out.join("keep.txt")).unwrap(), "mine");
}

#[test]
fn bad_flags_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let batches = fixture("train/distilbert_adamw").join("batches.safetensors");
    let out = tmp.path().join("out");
    refused(&batches, &out, &["--momentum", "0.9"], &["--momentum", "adamw"]);
    refused(&batches, &out, &["--lr=-1"], &["learning rate"]);
    refused(&batches, &out, &["--clip-norm", "nan"], &["max_norm"]);
    let (code, err) = train_with(&batches, &out, &["--optimizer", "lion"]);
    assert_eq!(code, 2, "{err}");
    assert!(!out.exists());
}

/// `--doctor` runs the doctor over the first steps: the step lines go on,
/// and a healthy fine-tuning run gets one clean `doctor:` line or findings,
/// each on its own line starting `doctor: `.
#[test]
fn train_doctor_prints_its_findings_and_keeps_training() {
    let dir = fixture("train/distilbert_adamw");
    let batches = dir.join("batches.safetensors");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (code, stdout, stderr) =
        wgraph(&["train", s(&dir), "--inputs", s(&batches), "--steps", "3", "--doctor", "--output", s(&out)]);
    assert_eq!(code, 0, "{stderr}");
    let steps: Vec<&str> = stdout.lines().filter(|l| l.starts_with("step ")).collect();
    assert_eq!(steps.len(), 3, "{stdout}");
    let doctor: Vec<&str> = stdout.lines().filter(|l| l.starts_with("doctor: ")).collect();
    assert!(!doctor.is_empty(), "{stdout}");
    assert!(out.join("model.safetensors").is_file());
}
