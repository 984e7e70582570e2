//! A broken checkpoint gets an error, never a panic: every model fixture is
//! loaded with each config key removed, with each integer key set to sizes
//! that break the model's arithmetic (0, 1, odd), and with its config.json
//! truncated at many points. Loading the graph and checking the weights must
//! return `Ok` or an error with a message; a panic fails the test and names
//! the mutation.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::fixture;

use serde_json::Value as Json;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use wgraph::weights::check_ir;
use wgraph::Weights;
use wgraph_models::zoo;

fn model_dirs() -> Vec<PathBuf> {
    let root = fixture("models");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("config.json").is_file())
        .collect();
    dirs.sort();
    dirs
}

/// What loading `config` next to the fixture's weights gives: `Ok(None)` for
/// a graph whose weights check out, `Ok(Some(message))` for an error, `Err`
/// for a panic.
fn outcome(fixture: &Path, config: &str, work: &Path) -> Result<Option<String>, String> {
    std::fs::write(work.join("config.json"), config).expect("write config");
    let weights_path = fixture.join("model.safetensors");
    catch_unwind(AssertUnwindSafe(|| {
        let loaded = match zoo::load(work) {
            Ok(l) => l,
            Err(e) => return Some(e.to_string()),
        };
        let weights = match Weights::open([&weights_path]) {
            Ok(w) => w,
            Err(e) => return Some(e.to_string()),
        };
        let ir = match loaded.graph.ir() {
            Ok(ir) => ir.clone(),
            Err(e) => return Some(e.to_string()),
        };
        check_ir(&ir, &weights).err().map(|e| e.to_string())
    }))
    .map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    })
}

/// Every mutation of one config: each top-level key removed, each integer
/// key set to awkward sizes.
fn mutations(config: &Json) -> Vec<(String, Json)> {
    let Json::Object(map) = config else { return Vec::new() };
    let mut out = Vec::new();
    for (key, value) in map {
        let mut removed = map.clone();
        removed.remove(key);
        out.push((format!("without `{key}`"), Json::Object(removed)));
        if value.is_u64() {
            for n in [0u64, 1, 3, 7] {
                let mut changed = map.clone();
                changed.insert(key.clone(), Json::from(n));
                out.push((format!("`{key}`: {n}"), Json::Object(changed)));
            }
        }
    }
    out
}

#[test]
fn broken_configs_give_errors_not_panics() {
    let work = tempfile::tempdir().expect("tempdir");
    let mut tried = 0;
    let mut errors = 0;
    let mut panics = Vec::new();
    for fixture in model_dirs() {
        let text = std::fs::read_to_string(fixture.join("config.json")).expect("config");
        let config: Json = serde_json::from_str(&text).expect("fixture config parses");
        let name = fixture.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
        // The unmodified fixture loads and checks cleanly.
        assert_eq!(outcome(&fixture, &text, work.path()), Ok(None), "{name} as committed");
        let mut cases = mutations(&config);
        // Truncated files: every 7th byte boundary that is a char boundary.
        for cut in (0..text.len()).step_by(7).filter(|&c| text.is_char_boundary(c)) {
            cases.push((format!("truncated at byte {cut}"), Json::String(text[..cut].to_string())));
        }
        for (what, mutated) in cases {
            let body = match &mutated {
                Json::String(raw) if what.starts_with("truncated") => raw.clone(),
                other => other.to_string(),
            };
            tried += 1;
            match outcome(&fixture, &body, work.path()) {
                Ok(Some(message)) => {
                    assert!(!message.trim().is_empty(), "{name}, {what}: empty error message");
                    errors += 1;
                }
                Ok(None) => {}
                Err(panic) => panics.push(format!("{name}, {what}: {panic}")),
            }
        }
    }
    assert!(panics.is_empty(), "{} of {tried} broken configs panicked:\n{}", panics.len(), panics.join("\n"));
    assert!(tried > 500, "only {tried} mutations tried");
    assert!(errors > tried / 2, "only {errors} of {tried} mutations were refused");
}
