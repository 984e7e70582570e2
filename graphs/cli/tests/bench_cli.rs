//! `wgraph bench` and the on-disk pipeline cache, run as a user would.
//! No timed assertions: speed belongs in BENCHMARKS.md; these check that
//! the figures exist, agree with each other, and that bad input exits 2.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
use fixtures::model;

#[path = "common/cli_run.rs"]
mod cli_run;

use cli_run::wgraph_env as wgraph;
use std::path::{Path, PathBuf};
use wgraph::Weights;

/// No test writes to the home directory's cache.
const NO_CACHE: (&str, &str) = ("WGRAPH_PIPELINE_CACHE", "off");

fn model_dir(name: &str) -> String {
    model(name).to_str().unwrap().to_string()
}

fn bench_json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = wgraph(args, &[NO_CACHE]);
    assert_eq!(code, 0, "{err}");
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("not one JSON object ({e}): {out}"))
}

fn positive(v: &serde_json::Value, key: &str) -> f64 {
    let x = v[key].as_f64().unwrap_or_else(|| panic!("no number `{key}` in {v}"));
    assert!(x > 0.0, "{key} = {x}");
    x
}

#[test]
fn bench_json_has_every_figure_and_throughput_follows_the_median() {
    let dir = model_dir("bert_base");
    let v = bench_json(&["bench", &dir, "--batch", "2", "--seq", "8", "--reps", "3", "--json"]);
    for key in ["median_ms", "min_ms", "compile_s", "first_run_ms", "throughput"] {
        positive(&v, key);
    }
    assert!(v["adapter"].as_str().is_some_and(|a| !a.is_empty()), "{v}");
    assert!(v["driver"].is_string() && v["cpu_flags"].is_array() && v["tune"].is_string(), "{v}");
    // Linux names its CPU in /proc/cpuinfo; benchmark tables record it.
    assert!(v["cpu"].as_str().is_some_and(|c| !c.is_empty()), "{v}");
    // The first run may be served by quick kernels (drivers that compile at
    // first dispatch); the timed runs wait for the tuned ones.
    assert!(matches!(v["first_run_tier"].as_str(), Some("quick" | "tuned")), "{v}");
    assert!(v["tuned_wait_s"].as_f64().is_some_and(|s| s >= 0.0), "{v}");
    assert!(positive(&v, "min_ms") <= positive(&v, "median_ms"));
    let expected = 2.0 * 1e3 / positive(&v, "median_ms");
    assert!((positive(&v, "throughput") - expected).abs() <= 1e-9 * expected, "{v}");
    // The process's peak: a Vulkan device, the compiler and the interpreter-free run
    // take tens of megabytes at least, and never the machine's 24 GiB.
    let rss = positive(&v, "peak_rss_mb");
    assert!((20.0..16384.0).contains(&rss), "peak RSS {rss} MB");
}

#[test]
fn bench_profile_times_every_dispatch_and_names_its_method() {
    let dir = model_dir("distilbert_classifier");
    for method in ["auto", "isolated"] {
        let args = ["bench", &dir, "--batch", "1", "--seq", "6", "--reps", "1", "--json", "--profile"];
        let v = bench_json(&[&args[..], &["--profile-method", method]].concat());
        let p = &v["profile"];
        assert!(p["method"].as_str().is_some_and(|m| !m.is_empty()), "{v}");
        let kernels = p["kernels"].as_array().unwrap();
        assert!(!kernels.is_empty());
        let kinds = p["kinds"].as_array().unwrap();
        let counted: u64 = kinds.iter().map(|k| k["count"].as_u64().unwrap()).sum();
        assert_eq!(counted as usize, kernels.len(), "every kernel in one kind");
        // Matmuls report an arithmetic rate, every kind a memory rate.
        let matmul = kinds.iter().find(|k| k["kind"].as_str().unwrap().starts_with("matmul")).expect("a matmul kind");
        assert!(matmul["gflops"].as_f64().is_some(), "{matmul}");
        // Each matmul kernel names the block it ran with (tuned or the rule's).
        let named = kernels.iter().filter(|k| k["kernel"].as_str().unwrap().contains("matmul"));
        for k in named {
            let variant = k["variant"].as_str().unwrap_or_default();
            assert!(variant.parse::<wgraph::compile::MatmulKernel>().is_ok(), "{k}");
        }
    }
    let (code, out, err) =
        wgraph(&["bench", &dir, "--batch", "1", "--seq", "6", "--reps", "1", "--profile"], &[NO_CACHE]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("profile: ") && out.contains("| kernel kind | count | total ms | share | GFLOP/s | GB/s |"),
        "{out}"
    );
}

#[test]
fn bench_generate_reports_prefill_and_decode() {
    let dir = model_dir("llama_gqa");
    let v = bench_json(&[
        "bench",
        &dir,
        "--batch",
        "1",
        "--seq",
        "4",
        "--reps",
        "1",
        "--json",
        "--generate",
        "3",
        "--prompt-len",
        "4",
        "--gen-reps",
        "1",
    ]);
    for key in ["prefill_ms", "decode_ms_per_token", "tokens_per_s", "median_ms"] {
        positive(&v, key);
    }
    let per_s = 1e3 / positive(&v, "decode_ms_per_token");
    assert!((positive(&v, "tokens_per_s") - per_s).abs() <= 1e-9 * per_s);
}

#[test]
fn bench_refuses_bad_input_with_exit_2() {
    let (bert, whisper, llama) = (model_dir("bert_base"), model_dir("whisper_tiny"), model_dir("llama_gqa"));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["bench", "/nonexistent/model", "--batch", "1", "--seq", "4"], "/nonexistent/model"),
        (vec!["bench", &bert, "--batch", "0", "--seq", "4"], "--batch"),
        (vec!["bench", &bert, "--batch", "1", "--seq", "4", "--reps", "0"], "--reps"),
        // bert_base's max_position_embeddings is 40.
        (vec!["bench", &bert, "--batch", "1", "--seq", "41"], "max_position_embeddings"),
        (vec!["bench", &bert, "--batch", "1", "--seq", "4", "--generate", "4"], "decoder"),
        (vec!["bench", &whisper, "--batch", "1", "--seq", "30"], "--seq 24"),
        (vec!["bench", &llama, "--batch", "1", "--seq", "4", "--generate", "60", "--prompt-len", "8"], "context"),
    ];
    for (args, says) in cases {
        let (code, _, err) = wgraph(&args, &[NO_CACHE]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.starts_with("error: ") && err.contains(says), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// `wgraph run` on distilbert_classifier's inputs; the max difference of
/// its logits from HF's.
fn run_classifier(out_dir: &Path, env: &[(&str, &str)]) -> (String, f32) {
    let dir = model_dir("distilbert_classifier");
    let out = out_dir.join("out.safetensors");
    let inputs = format!("{dir}/inputs.safetensors");
    let (code, _, err) = wgraph(&["run", &dir, "--inputs", &inputs, "--output", out.to_str().unwrap()], env);
    assert_eq!(code, 0, "{err}");
    let ours = Weights::open([&out]).unwrap().read("logits").unwrap().to_f32_vec();
    let hf = Weights::open([format!("{dir}/outputs.safetensors")]).unwrap().read("logits").unwrap().to_f32_vec();
    (err, ours.iter().zip(&hf).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max))
}

/// The one pipeline cache file in `dir` (which also holds the list of
/// validated kernel sources).
fn cache_file(dir: &Path) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("wgpu_pipeline_cache_")))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

#[test]
fn the_pipeline_cache_is_written_reloaded_and_survives_corruption() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let env = [("WGRAPH_PIPELINE_CACHE", cache.to_str().unwrap()), ("WGRAPH_DEBUG", "1")];

    let (err, diff) = run_classifier(tmp.path(), &env);
    assert!(diff < 1e-4, "{diff}");
    assert!(err.contains("pipeline cache: loaded 0 bytes"), "{err}");
    let file = cache_file(&cache);
    let written = std::fs::read(&file).unwrap();
    assert!(!written.is_empty());
    assert!(err.contains(&format!("pipeline cache: wrote {} bytes", written.len())), "{err}");

    // A second process finds it, and has nothing new to write.
    let (err, diff) = run_classifier(tmp.path(), &env);
    assert!(diff < 1e-4, "{diff}");
    assert!(err.contains(&format!("pipeline cache: loaded {} bytes from {}", written.len(), file.display())), "{err}");
    assert!(!err.contains("pipeline cache: wrote"), "{err}");

    // A corrupt file is ignored (wgpu validates it) and replaced.
    let mut garbage = written.clone();
    garbage.iter_mut().for_each(|b| *b = b.wrapping_mul(31).wrapping_add(7));
    garbage.extend_from_slice(b"not a pipeline cache");
    std::fs::write(&file, &garbage).unwrap();
    let (err, diff) = run_classifier(tmp.path(), &env);
    assert!(diff < 1e-4, "the run after a corrupt cache differs from HF by {diff}");
    assert!(err.contains("pipeline cache: wrote"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), written);

    // Deleting it is safe.
    std::fs::remove_file(&file).unwrap();
    let (_, diff) = run_classifier(tmp.path(), &env);
    assert!(diff < 1e-4);
    assert!(cache_file(&cache).exists());
}

#[test]
fn the_pipeline_cache_goes_to_the_user_cache_dir_unless_off() {
    let tmp = tempfile::tempdir().unwrap();
    let xdg = tmp.path().join("xdg");
    let (_, diff) = run_classifier(tmp.path(), &[("XDG_CACHE_HOME", xdg.to_str().unwrap())]);
    assert!(diff < 1e-4);
    assert!(cache_file(&xdg.join("wgraph")).exists());

    let home = tmp.path().join("home");
    let (err, diff) = run_classifier(
        tmp.path(),
        &[
            ("XDG_CACHE_HOME", ""),
            ("HOME", home.to_str().unwrap()),
            ("WGRAPH_PIPELINE_CACHE", "off"),
            ("WGRAPH_DEBUG", "1"),
        ],
    );
    assert!(diff < 1e-4);
    assert!(!home.exists(), "nothing written with the cache off");
    assert!(!err.contains("pipeline cache"), "{err}");
}

#[test]
fn pipelines_created_on_several_threads_give_the_same_results() {
    let tmp = tempfile::tempdir().unwrap();
    for threads in ["1", "3"] {
        let (_, diff) = run_classifier(tmp.path(), &[NO_CACHE, ("WGRAPH_PIPELINE_THREADS", threads)]);
        assert!(diff < 1e-4, "{threads} threads: {diff}");
    }
}
