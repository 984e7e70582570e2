//! `wgraph tune` as a user runs it: every matmul of a checkpoint timed and
//! the winners saved to the device's tuning cache, found again by the next
//! run; bad flags and an unknown `WGRAPH_TUNE` exit 2.

#[path = "common/cli_run.rs"]
mod cli_run;
#[path = "../../tests/common/fixtures.rs"]
mod fixtures;

use cli_run::wgraph_env;
use fixtures::model;

#[test]
fn tune_saves_the_winners_and_the_next_run_finds_them() {
    let cache = tempfile::tempdir().unwrap();
    let dir = model("bert_base");
    let env = [("WGRAPH_PIPELINE_CACHE", cache.path().to_str().unwrap())];
    let args = ["tune", dir.to_str().unwrap(), "--batch", "2", "--seq", "8", "--mode", "quick"];
    let (code, out, err) = wgraph_env(&args, &env);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("GFLOP/s") && out.contains("<- chosen"), "{out}");
    let saved: Vec<_> = std::fs::read_dir(cache.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("tuning-"))
        .collect();
    assert_eq!(saved.len(), 1, "{out}");
    assert!(out.contains(&saved[0].path().display().to_string()), "{out}");
    // The second run measures nothing: every signature is cached.
    let (code, again, err) = wgraph_env(&args, &env);
    assert_eq!(code, 0, "{err}");
    assert!(again.contains("(cached)") && !again.contains("GFLOP/s"), "{again}");
    // And the model runs with them.
    let inputs = dir.join("inputs.safetensors");
    let out_file = cache.path().join("out.safetensors");
    let run =
        ["run", dir.to_str().unwrap(), "--inputs", inputs.to_str().unwrap(), "--output", out_file.to_str().unwrap()];
    let (code, _, err) = wgraph_env(&run, &env);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn bad_tuning_requests_exit_2_and_say_why() {
    let dir = model("bert_base");
    let d = dir.to_str().unwrap();
    let off = [("WGRAPH_PIPELINE_CACHE", "off")];
    let (code, _, err) = wgraph_env(&["tune", d, "--batch", "0"], &off);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--batch"), "{err}");
    let (code, _, err) = wgraph_env(&["tune", d, "--seq", "100000"], &off);
    assert_eq!(code, 2, "{err}");
    let inputs = dir.join("inputs.safetensors");
    let out = tempfile::tempdir().unwrap();
    let out_file = out.path().join("out.safetensors");
    let run = ["run", d, "--inputs", inputs.to_str().unwrap(), "--output", out_file.to_str().unwrap()];
    let (code, _, err) = wgraph_env(&run, &[("WGRAPH_TUNE", "fastest")]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("WGRAPH_TUNE=fastest"), "{err}");
}
