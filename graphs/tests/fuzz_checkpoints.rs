//! Fuzzing the checkpoint reader with mutated safetensors files: bytes
//! flipped, overwritten, inserted and removed anywhere (the 8-byte header
//! length and the JSON header most of all), files truncated. Every case must
//! come back within a time limit, without a panic, and without a false
//! accept: when wgraph opens a mutated file, the safetensors crate's own
//! strict parser must accept it too, and every tensor wgraph reads must hold
//! exactly the bytes that parser sees.
//!
//! CI runs a few hundred cases; `WGRAPH_FUZZ_CASES=20000 cargo test -p
//! wgraph-models --release --test fuzz_checkpoints` runs a longer search.

#[path = "common/fixtures.rs"]
mod fixtures;
use fixtures::model;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;
use wgraph::Weights;

/// One edit of a file's bytes.
#[derive(Debug, Clone)]
enum Mutation {
    /// XOR one byte with a non-zero mask.
    Flip { at: usize, mask: u8 },
    /// Overwrite one byte.
    Set { at: usize, value: u8 },
    /// Insert bytes.
    Insert { at: usize, bytes: Vec<u8> },
    /// Remove a run of bytes.
    Remove { at: usize, len: usize },
    /// Keep only the first `len` bytes.
    Truncate { len: usize },
}

/// Mutations aimed where parsers break: positions are drawn mostly from the
/// header (the length prefix and the JSON), sometimes from anywhere.
fn mutation(file_len: usize, header_end: usize) -> impl Strategy<Value = Mutation> {
    let pos = prop_oneof![3 => 0..8usize, 6 => 8..header_end.max(9), 2 => 0..file_len.max(1)];
    prop_oneof![
        (pos.clone(), 1..=255u8).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        (pos.clone(), prop::sample::select(vec![b'"', b'{', b'}', b'[', b']', b',', b':', b'0', b'9', 0, 0xff]))
            .prop_map(|(at, value)| Mutation::Set { at, value }),
        (pos.clone(), prop::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (pos, 1..64usize).prop_map(|(at, len)| Mutation::Remove { at, len }),
        (0..file_len.max(1)).prop_map(|len| Mutation::Truncate { len }),
    ]
}

fn apply(bytes: &[u8], edits: &[Mutation]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for m in edits {
        let n = b.len();
        match m {
            Mutation::Flip { at, mask } if *at < n => b[*at] ^= mask,
            Mutation::Set { at, value } if *at < n => b[*at] = *value,
            Mutation::Insert { at, bytes } => {
                let at = (*at).min(n);
                b.splice(at..at, bytes.iter().copied());
            }
            Mutation::Remove { at, len } if *at < n => {
                b.drain(*at..(*at + len).min(n));
            }
            Mutation::Truncate { len } => b.truncate((*len).min(n)),
            Mutation::Flip { .. } | Mutation::Set { .. } | Mutation::Remove { .. } => {}
        }
    }
    b
}

/// What reading a mutated file gave: a message for a refusal, or the
/// accepted tensors checked against the safetensors crate.
fn read_mutated(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let accepted = match Weights::open([path]) {
        Err(e) => {
            let message = e.to_string();
            if message.trim().is_empty() {
                return Err("a refusal without a message".into());
            }
            return Ok(());
        }
        Ok(w) => w,
    };
    // No false accept: the reference parser must agree the file is valid,
    // with the same tensors, and every read must give its bytes.
    let reference = safetensors::SafeTensors::deserialize(bytes)
        .map_err(|e| format!("wgraph accepted a file safetensors refuses ({e})"))?;
    let mut ours: Vec<String> = accepted.names().map(String::from).collect();
    let mut theirs: Vec<String> = reference.names().into_iter().map(String::from).collect();
    ours.sort();
    theirs.sort();
    if ours != theirs {
        return Err(format!("tensor names differ: wgraph {ours:?}, safetensors {theirs:?}"));
    }
    for name in &ours {
        let view = reference.tensor(name).map_err(|e| e.to_string())?;
        let info = accepted.info(name).ok_or("listed but no info")?;
        if info.shape != view.shape() {
            return Err(format!("`{name}`: shape {:?} vs {:?}", info.shape, view.shape()));
        }
        // Either a clean refusal of the dtype or exactly the stored bytes.
        if let Ok(t) = accepted.read(name) {
            if t.to_le_bytes() != view.data() {
                return Err(format!("`{name}`: read bytes differ from the file's"));
            }
        }
    }
    Ok(())
}

/// Runs one case on a thread so a hang fails the test instead of stalling it.
fn within(limit: Duration, case: impl FnOnce() -> Result<(), String> + Send + 'static) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case))
            .unwrap_or_else(|p| Err(format!("panic: {:?}", p.downcast_ref::<String>().or(None))));
        let _ = tx.send(result);
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| Err(format!("no answer within {limit:?}")))
}

fn cases() -> u32 {
    std::env::var("WGRAPH_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(300)
}

#[test]
fn mutated_safetensors_files_are_refused_cleanly_or_read_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["bert_base", "llama_gqa"] {
        let original = std::fs::read(model(name).join("model.safetensors")).unwrap();
        let header_end = 8 + u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
        // A fixed seed: CI explores the same cases every run.
        let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]);
        let mut runner = TestRunner::new_with_rng(Config { cases: cases(), ..Config::default() }, rng);
        let path = tmp.path().join(format!("{name}.safetensors"));
        let strategy = prop::collection::vec(mutation(original.len(), header_end), 1..4);
        let result = runner.run(&strategy, |edits| {
            let bytes = apply(&original, &edits);
            std::fs::write(&path, &bytes).unwrap();
            let (p, b) = (path.clone(), bytes.clone());
            let verdict = within(Duration::from_secs(20), move || read_mutated(&p, &b));
            prop_assert!(verdict.is_ok(), "{name} with {edits:?}: {}", verdict.unwrap_err());
            Ok(())
        });
        if let Err(e) = result {
            panic!("{e}");
        }
    }
}

/// The file names that reach the reader from a checkpoint directory are
/// fuzzed too: index entries with odd paths are refused with a message.
#[test]
fn shard_names_from_an_index_never_leave_the_model_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("model");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(model("bert_base").join("model.safetensors"), dir.join("model-00001.safetensors")).unwrap();
    let names: Vec<String> =
        Weights::open([dir.join("model-00001.safetensors")]).unwrap().names().map(String::from).collect();
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &[9; 32]);
    let mut runner = TestRunner::new_with_rng(Config { cases: cases() / 3, ..Config::default() }, rng);
    let shard = prop_oneof![
        Just("model-00001.safetensors".to_string()),
        "(\\.\\./|/|\\./|[a-z]{1,3}/){0,3}model-0000[0-2]\\.safetensors",
        "/[a-z]{1,8}(/[a-z]{1,8}){0,2}",
        Just(String::new()),
    ];
    let result = runner.run(&shard, |shard| {
        let map: serde_json::Map<String, serde_json::Value> =
            names.iter().map(|n| (n.clone(), serde_json::Value::from(shard.clone()))).collect();
        let index = dir.join("model.safetensors.index.json");
        std::fs::write(&index, serde_json::json!({ "weight_map": map }).to_string()).unwrap();
        let opened = Weights::from_index(&index);
        let plain = shard == "model-00001.safetensors";
        match opened {
            Ok(_) => prop_assert!(plain, "`{shard}` was opened"),
            Err(e) => {
                prop_assert!(!plain, "the real shard was refused: {e}");
                let m = e.to_string();
                prop_assert!(m.contains("shard") || m.contains("cannot read"), "`{shard}`: {m}");
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
