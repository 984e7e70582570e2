//! The `wgraph` command-line tool, run as a user would.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
use fixtures::model;

#[path = "common/cli_run.rs"]
mod cli_run;

use cli_run::wgraph;
use std::path::Path;
use wgraph::Weights;

/// `wgraph run MODEL --inputs IN --output OUT --dump DUMP`, which must succeed.
fn run_with_dump(model: &Path, inputs: &Path, out: &Path, dump: &Path) {
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let args = ["run", &path(model), "--inputs", &path(inputs), "--output", &path(out), "--dump", &path(dump)];
    let (code, _, err) = wgraph(&args);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn every_subcommand_has_help() {
    for cmd in [
        "run",
        "grad",
        "dump",
        "check-weights",
        "inspect",
        "embed",
        "classify",
        "generate",
        "compare",
        "check",
        "check-device",
        "features",
        "bench",
        "chat",
        "serve",
    ] {
        let (code, out, _) = wgraph(&[cmd, "--help"]);
        assert_eq!(code, 0, "{cmd}");
        assert!(out.contains("Usage: wgraph"), "{cmd}: {out}");
    }
}

#[test]
fn run_writes_hf_named_outputs_and_a_dump_in_execution_order() {
    let dir = model("distilbert_classifier");
    let tmp = tempfile::tempdir().unwrap();
    let (out, dump) = (tmp.path().join("out.safetensors"), tmp.path().join("dump.safetensors"));
    run_with_dump(&dir, &dir.join("inputs.safetensors"), &out, &dump);
    let ours = Weights::open([&out]).unwrap().read("logits").unwrap().to_f32_vec();
    let hf = Weights::open([dir.join("outputs.safetensors")]).unwrap().read("logits").unwrap().to_f32_vec();
    let diff = ours.iter().zip(&hf).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(diff < 1e-4, "logits differ from HF by {diff}");

    let (code, listing, _) = wgraph(&["inspect", dump.to_str().unwrap()]);
    assert_eq!(code, 0);
    let names: Vec<&str> = listing.lines().skip(1).filter_map(|l| l.split_whitespace().next()).collect();
    let pos = |n: &str| names.iter().position(|x| *x == n).unwrap_or_else(|| panic!("{n} not in {names:?}"));
    assert!(pos("distilbert.embeddings") < pos("distilbert.transformer.layer.0.attention"));
    assert!(pos("distilbert.transformer.layer.2") < pos("pre_classifier"));
    assert!(pos("pre_classifier") < pos("classifier"));
}

#[test]
fn run_fills_token_type_ids_with_zeros_like_hf() {
    let dir = model("bert_base");
    let tmp = tempfile::tempdir().unwrap();
    // Inputs without token_type_ids, and with the ids as i32.
    let full = Weights::open([dir.join("inputs.safetensors")]).unwrap();
    let ids = full.read("input_ids").unwrap().cast(wgraph::DType::I32);
    let mask = full.read("attention_mask").unwrap();
    let inputs = tmp.path().join("in.safetensors");
    wgraph::weights::save_safetensors(
        &inputs,
        &wgraph::NamedTensors(vec![("input_ids".into(), ids), ("attention_mask".into(), mask)]),
        None,
    )
    .unwrap();
    let out = tmp.path().join("out.safetensors");
    let (code, _, err) = wgraph(&[
        "run",
        dir.to_str().unwrap(),
        "--inputs",
        inputs.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let y = Weights::open([&out]).unwrap().read("last_hidden_state").unwrap();
    assert_eq!(y.shape(), &[2, 6, 32]);
}

#[test]
fn check_weights_reports_every_problem_and_fails() {
    let dir = model("bert_base");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("config.json"), tmp.path().join("config.json")).unwrap();
    let w = Weights::from_dir(&dir).unwrap();
    let mut tensors: Vec<(String, wgraph::Tensor)> = w.names().map(|n| (n.to_string(), w.read(n).unwrap())).collect();
    for (name, _) in tensors.iter_mut() {
        *name = format!("bert.{name}");
    }
    wgraph::weights::save_safetensors(tmp.path().join("model.safetensors"), &wgraph::NamedTensors(tensors), None)
        .unwrap();
    let (code, _, err) = wgraph(&["check-weights", tmp.path().to_str().unwrap()]);
    assert_eq!(code, 2, "a checkpoint that does not fit the graph is bad input");
    assert!(err.contains("37 weight problems"), "{err}");
    assert!(err.contains("Weights::with_prefix(\"bert.\")"), "{err}");

    let (code, out, _) = wgraph(&["check-weights", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.starts_with("all 37 weights of `BertModel` are present"), "{out}");
}

#[test]
fn dump_prints_text_dot_and_json() {
    let dir = model("distilbert_base");
    let (code, text, _) = wgraph(&["dump", dir.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(text.starts_with("graph DistilBertModel\n"));
    assert!(text.contains("\"transformer.layer.1.ffn.lin1\""));
    let (_, dot, _) = wgraph(&["dump", dir.to_str().unwrap(), "--format", "dot"]);
    assert!(dot.starts_with("digraph \"DistilBertModel\""));
    let (_, json, _) = wgraph(&["dump", dir.to_str().unwrap(), "--format", "json"]);
    assert!(serde_json::from_str::<serde_json::Value>(&json).is_ok());
}

#[test]
fn bad_paths_are_errors_not_panics() {
    let (code, _, err) = wgraph(&["inspect", "/nonexistent.safetensors"]);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: cannot read /nonexistent.safetensors"), "{err}");
    let (code, _, err) = wgraph(&["dump", "/nonexistent"]);
    assert_eq!(code, 2);
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn generate_prints_hf_greedy_tokens() {
    let dir = model("llama_gqa");
    let want: Vec<i64> =
        Weights::open([dir.join("outputs.safetensors")]).unwrap().read("generated_ids").unwrap().to_i64_vec();
    let ids = Weights::open([dir.join("inputs.safetensors")]).unwrap().read("input_ids").unwrap().to_i64_vec();
    let prompt: Vec<String> = ids[..5].iter().map(|i| i.to_string()).collect();
    let n = (want.len() - 5).to_string();
    let (code, out, err) =
        wgraph(&["generate", dir.to_str().unwrap(), "--input-ids", &prompt.join(","), "--max-new-tokens", &n]);
    assert_eq!(code, 0, "{err}");
    let got: Vec<i64> = out.trim().split(',').map(|t| t.parse().unwrap()).collect();
    // HF stops at EOS (token 2) by default; the fixture was generated without stopping.
    let stop = want[5..].iter().position(|&t| t == 2).map_or(want.len(), |p| 5 + p + 1);
    assert_eq!(got, want[..stop]);
}

/// The debugging loop end to end: a checkpoint with one Linear weight
/// negated runs fine; `compare` against the PyTorch dump of the real
/// checkpoint names that Linear as the first divergence and says why.
#[test]
fn compare_finds_the_first_wrong_module_and_diagnoses_it() {
    let dir = model("distilbert_classifier");
    let reference = dir.join("torch_dump.safetensors");
    let tmp = tempfile::tempdir().unwrap();
    let run_dump = |model: &Path, name: &str| {
        let (out, dump) =
            (tmp.path().join(format!("{name}.out.safetensors")), tmp.path().join(format!("{name}.dump.safetensors")));
        run_with_dump(model, &dir.join("inputs.safetensors"), &out, &dump);
        dump
    };
    let good = run_dump(&dir, "good");
    let (code, out, _) = wgraph(&["compare", good.to_str().unwrap(), reference.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no divergence"), "{out}");
    assert!(out.lines().any(|l| l.starts_with("logits ")), "graph outputs are compared too: {out}");

    // Break one weight: layer 1's value projection, negated.
    let broken = tmp.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    std::fs::copy(dir.join("config.json"), broken.join("config.json")).unwrap();
    let w = Weights::from_dir(&dir).unwrap();
    let tensors: Vec<(String, wgraph::Tensor)> = w
        .names()
        .map(|n| {
            let t = w.read(n).unwrap();
            let t = if n == "distilbert.transformer.layer.1.attention.v_lin.weight"
                || n == "distilbert.transformer.layer.1.attention.v_lin.bias"
            {
                wgraph::Tensor::new(t.shape().to_vec(), t.to_f32_vec().iter().map(|x| -x).collect::<Vec<f32>>())
                    .unwrap()
            } else {
                t
            };
            (n.to_string(), t)
        })
        .collect();
    wgraph::weights::save_safetensors(broken.join("model.safetensors"), &wgraph::NamedTensors(tensors), None).unwrap();
    let bad = run_dump(&broken, "bad");
    let (code, out, _) = wgraph(&["compare", bad.to_str().unwrap(), reference.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("first divergence: distilbert.transformer.layer.1.attention.v_lin\n  diagnosis: sign flip"),
        "{out}"
    );

    // Bad input: exit status 2.
    let (code, _, err) = wgraph(&["compare", "/nonexistent", reference.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn check_runs_gpu_and_interpreter_op_by_op() {
    for name in ["distilbert_classifier", "whisper_tiny", "llama_gqa"] {
        let dir = model(name);
        let inputs = dir.join("inputs.safetensors");
        let (code, out, err) = wgraph(&["check", dir.to_str().unwrap(), "--inputs", inputs.to_str().unwrap()]);
        assert_eq!(code, 0, "{name}: {out}{err}");
        assert!(out.starts_with("GPU and interpreter agree on all "), "{name}: {out}");
    }
    let (code, _, _) = wgraph(&["check", "/nonexistent", "--inputs", "/nonexistent"]);
    assert_eq!(code, 2);
}

#[test]
fn check_device_runs_the_op_table_against_the_interpreter() {
    let (code, out, err) = wgraph(&["check-device"]);
    assert_eq!(code, 0, "{out}{err}");
    // Each case fused and unfused on one seed: at least twice the table's floor.
    let runs: usize = out
        .split("all ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no run count in {out:?}"));
    assert!(runs >= 2 * wgraph::debug::op_table::MIN_CASES, "{out}");
    assert!(out.trim_end().ends_with("op-case runs match the interpreter"), "{out}");
    let (code, _, err) = wgraph(&["check-device", "--seeds", "0"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn features_turns_a_wav_into_whisper_input_features() {
    let wav = fixtures::fixture("audio/clip.wav");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("features.safetensors");
    let (code, _, err) = wgraph(&["features", wav.to_str().unwrap(), "--output", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let f = Weights::open([&out]).unwrap().read("input_features").unwrap();
    assert_eq!(f.shape(), &[1, 80, 3000]);
    let (code, _, err) = wgraph(&["features", "/nonexistent.wav", "--output", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent.wav"), "{err}");
}

#[test]
fn classify_prints_hf_label_probabilities() {
    let dir = model("distilbert_classifier");
    let bytes = std::fs::read(dir.join("classify.safetensors")).unwrap();
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let texts: Vec<String> = serde_json::from_str(&meta.metadata().as_ref().unwrap()["texts"]).unwrap();
    let probs = Weights::open([dir.join("classify.safetensors")]).unwrap().read("probs").unwrap().to_f32_vec();
    let mut args = vec!["classify", dir.to_str().unwrap()];
    args.extend(texts.iter().map(String::as_str));
    let (code, out, err) = wgraph(&args);
    assert_eq!(code, 0, "{err}");
    let labels = ["negative", "neutral", "positive"];
    for (i, line) in out.lines().enumerate() {
        for (j, label) in labels.iter().enumerate() {
            let key = format!("{label}=");
            let at = line.find(&key).unwrap_or_else(|| panic!("{line}")) + key.len();
            let printed: f32 = line[at..at + 5].parse().unwrap();
            assert!((printed - probs[i * 3 + j]).abs() < 6e-4, "{line}: HF says {label} {}", probs[i * 3 + j]);
        }
        // The predicted label is HF's argmax.
        let best = (0..3).max_by(|&a, &b| probs[i * 3 + a].total_cmp(&probs[i * 3 + b])).unwrap();
        assert!(line.contains(&format!(": {} (", labels[best])), "{line}");
    }
    assert_eq!(out.lines().count(), texts.len());
}

#[test]
fn find_nan_reports_finite_models_as_clean() {
    let dir = model("bert_base");
    let inputs = dir.join("inputs.safetensors");
    let (code, out, err) = wgraph(&["find-nan", dir.to_str().unwrap(), "--inputs", inputs.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "every value is finite");
}

#[test]
fn dump_compiled_writes_the_program() {
    let dir = model("distilbert_base");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("compiled");
    let (code, stdout, err) = wgraph(&["dump", dir.to_str().unwrap(), "--compiled", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.starts_with("wrote "), "{stdout}");
    for f in ["graph.txt", "graph.dot", "schedule.txt", "memory.txt"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let dot = std::fs::read_to_string(out.join("graph.dot")).unwrap();
    assert!(dot.contains("subgraph cluster_0"), "kernels are clusters");
    let schedule = std::fs::read_to_string(out.join("schedule.txt")).unwrap();
    assert!(schedule.contains("matmul+add"), "{schedule}");
    let memory = std::fs::read_to_string(out.join("memory.txt")).unwrap();
    assert!(memory.contains("Slot(") && memory.contains("kernels "), "{memory}");
    let kernels = std::fs::read_dir(out.join("kernels")).unwrap().count();
    assert!(kernels > 5, "{kernels} kernels");
}

#[test]
fn compare_refuses_dumps_without_common_names() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.safetensors"), tmp.path().join("b.safetensors"));
    let t = || wgraph::Tensor::new([2], vec![1f32, 2.]).unwrap();
    wgraph::weights::save_safetensors(&a, &wgraph::NamedTensors(vec![("encoder.layer.0".into(), t())]), None).unwrap();
    wgraph::weights::save_safetensors(&b, &wgraph::NamedTensors(vec![("model.layers.0".into(), t())]), None).unwrap();
    let (code, _, err) = wgraph(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("have no tensor names in common"), "{err}");
    std::fs::write(&b, b"garbage").unwrap();
    let (code, _, err) = wgraph(&["compare", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a valid safetensors file"), "{err}");
}

#[test]
fn compare_plots_the_differences_to_png_and_svg() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.safetensors"), tmp.path().join("b.safetensors"));
    let t = |v: Vec<f32>| wgraph::Tensor::new([3], v).unwrap();
    let ours = vec![("embed".into(), t(vec![1., 2., 3.])), ("layer.0".into(), t(vec![1., 2., 4.]))];
    let reference = vec![("embed".into(), t(vec![1., 2., 3.])), ("layer.0".into(), t(vec![1., 2., 3.]))];
    wgraph::debug::write_dump(&a, &wgraph::NamedTensors(ours)).unwrap();
    wgraph::debug::write_dump(&b, &wgraph::NamedTensors(reference)).unwrap();
    let png = tmp.path().join("diff.png");
    let (code, out, err) =
        wgraph(&["compare", a.to_str().unwrap(), b.to_str().unwrap(), "--plot", png.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("first divergence: layer.0"), "{out}");
    let bytes = std::fs::read(&png).unwrap();
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 5000, "a PNG of {} bytes", bytes.len());
    let svg = tmp.path().join("diff.svg");
    let (code, ..) = wgraph(&["compare", a.to_str().unwrap(), b.to_str().unwrap(), "--plot", svg.to_str().unwrap()]);
    assert_eq!(code, 1);
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.contains("first divergence: layer.0"), "{text}");
    // Anything else is refused before a file is written.
    let jpg = tmp.path().join("diff.jpg");
    let (code, _, err) =
        wgraph(&["compare", a.to_str().unwrap(), b.to_str().unwrap(), "--plot", jpg.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("must end in .png or .svg") && !jpg.exists(), "{err}");
}
