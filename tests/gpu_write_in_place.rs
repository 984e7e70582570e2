//! Write-backs of a few rows of a weight (a KV cache growing one step at a
//! time): the rows land in place at their offset, run after run, the rest
//! of the weight is untouched, the values read in the same run are the old
//! ones, and a write past the end is a typed error.

mod common;

use common::gpu::{device, Rng};
use wgraph::graph::ops;
use wgraph::{CompileOptions, DType, Dim, Graph, Loader, Model, RuntimeError, Tensor, Value, Weights};

const CAPACITY: usize = 12;
const WIDTH: usize = 3;

/// A graph with a cache `[CAPACITY, WIDTH]`, its rows up to `past` and new
/// rows `[n, WIDTH]`; the cache with the new rows at `past` is written back
/// and `seen(graph, rows seen)` gives the other outputs.
fn appending_graph(name: &str, seen: impl FnOnce(&Graph, &Value) -> Vec<(&'static str, Value)>) -> Graph {
    let g = Graph::new(name);
    let cache = g.weight("cache", DType::F32, [CAPACITY, WIDTH]);
    let past = Dim::sym("past");
    let _mask = g.input("past_mask", DType::I64, [past.clone()]);
    let new = g.input("new", DType::F32, [Dim::sym("n"), Dim::new(WIDTH)]);
    let end = &past + &Dim::sym("n");
    let head = ops::slice(&cache, 0, 0, past);
    let tail = ops::slice(&cache, 0, end, CAPACITY);
    let mut outputs = vec![("cache", ops::concat(&[&head, &new, &tail], 0))];
    outputs.extend(seen(&g, &ops::concat(&[&head, &new], 0)));
    g.output_named(outputs).unwrap();
    g
}

/// The sum of every row seen (old and new).
fn cache_graph() -> Graph {
    appending_graph("cache", |_, seen| vec![("seen", ops::sum(seen, 0, false))])
}

/// `graph` compiled to write back, its cache random; and the cache's values.
fn loaded(graph: &Graph, rng: &mut Rng) -> (Model, Vec<f32>) {
    let initial = rng.floats(&[CAPACITY, WIDTH], -1.0, 1.0);
    let weights = Weights::from_tensors([("cache", initial.clone())]);
    let options = CompileOptions { write_back: true, ..CompileOptions::default() };
    (Loader::new(device()).with_options(options).load(graph, &weights).unwrap(), initial.to_f32_vec())
}

fn feed(past: usize, rows: &Tensor) -> Vec<(String, Tensor)> {
    vec![("past_mask".into(), Tensor::new([past], vec![1i64; past]).unwrap()), ("new".into(), rows.clone())]
}

#[test]
fn rows_are_appended_in_place_and_the_same_run_reads_the_old_cache() {
    let mut rng = Rng(11);
    let (model, mut expected) = loaded(&cache_graph(), &mut rng);
    let mut past = 0;
    for n in [4, 1, 1, 3] {
        let rows = rng.floats(&[n, WIDTH], -1.0, 1.0);
        let out = model.run(feed(past, &rows)).unwrap();
        // The run saw the cache before this step's write, plus the new rows.
        let mut want_seen = [0.0f32; WIDTH];
        for r in 0..past {
            (0..WIDTH).for_each(|c| want_seen[c] += expected[r * WIDTH + c]);
        }
        for (i, v) in rows.to_f32_vec().iter().enumerate() {
            want_seen[i % WIDTH] += v;
        }
        let seen = out.get("seen").unwrap().to_f32_vec();
        for c in 0..WIDTH {
            assert!((seen[c] - want_seen[c]).abs() < 1e-5, "step at past {past}: seen {seen:?}, want {want_seen:?}");
        }
        assert!(out.get("cache").is_none(), "a written-back output is not read back");
        expected[past * WIDTH..(past + n) * WIDTH].copy_from_slice(&rows.to_f32_vec());
        past += n;
        let now = model.read_weights(&["cache"]).unwrap().get("cache").unwrap().to_f32_vec();
        assert_eq!(now, expected, "after writing rows up to {past}: only those rows changed");
    }
}

#[test]
fn a_write_past_the_capacity_is_a_typed_error() {
    let weights = Weights::from_tensors([("cache", Tensor::zeros(DType::F32, [CAPACITY, WIDTH]).unwrap())]);
    let options = CompileOptions { write_back: true, ..CompileOptions::default() };
    let model = Loader::new(device()).with_options(options).load(&cache_graph(), &weights).unwrap();
    let rows = Tensor::zeros(DType::F32, [3, WIDTH]).unwrap();
    let err = model.run(feed(CAPACITY - 1, &rows)).unwrap_err();
    let message = err.to_string();
    let RuntimeError::WriteBackOutOfRange { name, start, end, size } = err else { panic!("got {err:?}") };
    assert_eq!((name.as_str(), start, end, size), ("cache", 132, 168, 144));
    assert!(message.contains("past its capacity"), "{message}");
    // Nothing was written: the cache is still all zeros.
    let cache = model.read_weights(&["cache"]).unwrap().get("cache").unwrap().to_f32_vec();
    assert!(cache.iter().all(|&v| v == 0.0));
}

/// The rows seen as a matmul's operand (an attention's keys):
/// `q @ concat(cache[..past], new)ᵀ`, one score per row.
fn keys_graph() -> Graph {
    appending_graph("keys", |g, keys| {
        let q = g.input("q", DType::F32, [1, WIDTH]);
        vec![("scores", ops::matmul(&q, &ops::transpose(keys, 0, 1)))]
    })
}

#[test]
fn keys_read_from_the_cache_after_the_new_rows_land_score_every_row() {
    let mut rng = Rng(12);
    let (model, mut expected) = loaded(&keys_graph(), &mut rng);
    // The keys have no kernel of their own: the matmul binds the cache.
    let write = &model.program().write_back[0];
    assert_eq!(write.read_in_place_by.len(), 1, "the keys are read in place: {write:?}");
    assert!(model.program().kernels.iter().all(|k| !k.name.contains("concat")));
    let mut past = 0;
    for n in [3, 1, 1, 4] {
        let rows = rng.floats(&[n, WIDTH], -1.0, 1.0);
        let q = rng.floats(&[1, WIDTH], -1.0, 1.0);
        let mut inputs = feed(past, &rows);
        inputs.push(("q".into(), q.clone()));
        let out = model.run(inputs).unwrap();
        expected[past * WIDTH..(past + n) * WIDTH].copy_from_slice(&rows.to_f32_vec());
        past += n;
        let q = q.to_f32_vec();
        let want: Vec<f32> =
            (0..past).map(|r| (0..WIDTH).map(|c| q[c] * expected[r * WIDTH + c]).sum::<f32>()).collect();
        let got = out.get("scores").unwrap().to_f32_vec();
        assert_eq!(got.len(), past);
        for (r, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() < 1e-5, "row {r} of {past}: got {g}, want {w}");
        }
        let now = model.read_weights(&["cache"]).unwrap().get("cache").unwrap().to_f32_vec();
        assert_eq!(now, expected, "after writing rows up to {past}: only those rows changed");
    }
}

/// Two caches, each taking its row of one batched value `[2, WIDTH]` (a
/// batched decode step's keys, one row per conversation): each copy reads
/// its row from its offset in the batched buffer, with no kernel slicing
/// it out, and lands at `past` in its own cache.
#[test]
fn each_batch_row_lands_in_its_own_cache_from_its_offset() {
    let mut rng = Rng(13);
    let g = Graph::new("rows");
    let past = Dim::sym("past");
    let _mask = g.input("past_mask", DType::I64, [past.clone()]);
    let batched = &g.input("new", DType::F32, [2, WIDTH]) * 2.0;
    let end = &past + &Dim::new(1);
    let mut outputs = Vec::new();
    for b in 0..2 {
        let cache = g.weight(format!("cache{b}"), DType::F32, [CAPACITY, WIDTH]);
        let rows = ops::slice(&batched, 0, b, b + 1);
        let head = ops::slice(&cache, 0, 0, past.clone());
        let tail = ops::slice(&cache, 0, end.clone(), CAPACITY);
        outputs.push((format!("cache{b}"), ops::concat(&[&head, &rows, &tail], 0)));
        outputs.push((format!("seen{b}"), ops::sum(&ops::concat(&[&head, &rows], 0), 0, false)));
    }
    g.output_named(outputs).unwrap();
    let initial: Vec<Tensor> = (0..2).map(|_| rng.floats(&[CAPACITY, WIDTH], -1.0, 1.0)).collect();
    let weights = Weights::from_tensors([("cache0", initial[0].clone()), ("cache1", initial[1].clone())]);
    let options = CompileOptions { write_back: true, ..CompileOptions::default() };
    let model = Loader::new(device()).with_options(options).load(&g, &weights).unwrap();
    let program = model.program();
    assert!(program.kernels.iter().all(|k| !k.name.contains("slice")), "rows are copied from their offsets");
    let mut expected: Vec<Vec<f32>> = initial.iter().map(|t| t.to_f32_vec()).collect();
    for past in [0, 1, 5] {
        let new = rng.floats(&[2, WIDTH], -1.0, 1.0);
        let out = model.run(feed(past, &new)).unwrap();
        let now = model.read_weights(&["cache0", "cache1"]).unwrap();
        for (b, want) in expected.iter_mut().enumerate() {
            let row: Vec<f32> = new.to_f32_vec()[b * WIDTH..(b + 1) * WIDTH].iter().map(|v| v * 2.0).collect();
            want[past * WIDTH..(past + 1) * WIDTH].copy_from_slice(&row);
            let seen = out.get(&format!("seen{b}")).unwrap().to_f32_vec();
            for (c, got) in seen.iter().enumerate() {
                let sum: f32 = (0..=past).map(|r| want[r * WIDTH + c]).sum();
                assert!((got - sum).abs() < 1e-5, "cache {b} at {past}: seen {seen:?}");
            }
            let got = now.get(&format!("cache{b}")).unwrap().to_f32_vec();
            assert_eq!(&got, want, "cache {b} after writing at {past}");
        }
    }
}

/// A cache that the graph only writes (no output reads its rows) is still
/// written back, not dropped as dead code with its write turned into a
/// plain output.
#[test]
fn a_cache_nothing_reads_is_still_written() {
    let g = Graph::new("write_only");
    let cache = g.weight("cache", DType::F32, [CAPACITY, WIDTH]);
    let past = Dim::sym("past");
    let _mask = g.input("past_mask", DType::I64, [past.clone()]);
    let new = g.input("new", DType::F32, [Dim::new(1), Dim::new(WIDTH)]);
    let end = &past + &Dim::new(1);
    let (head, tail) = (ops::slice(&cache, 0, 0, past), ops::slice(&cache, 0, end, CAPACITY));
    g.output_named([("cache", ops::concat(&[&head, &new, &tail], 0))]).unwrap();
    let weights = Weights::from_tensors([("cache", Tensor::zeros(DType::F32, [CAPACITY, WIDTH]).unwrap())]);
    let options = CompileOptions { write_back: true, ..CompileOptions::default() };
    let model = Loader::new(device()).with_options(options).load(&g, &weights).unwrap();
    let rows = Rng(14).floats(&[1, WIDTH], -1.0, 1.0);
    let out = model.run(feed(2, &rows)).unwrap();
    assert!(out.get("cache").is_none(), "a written-back output is not read back");
    let now = model.read_weights(&["cache"]).unwrap().get("cache").unwrap().to_f32_vec();
    let mut want = vec![0.0f32; CAPACITY * WIDTH];
    want[2 * WIDTH..3 * WIDTH].copy_from_slice(&rows.to_f32_vec());
    assert_eq!(now, want);
}
