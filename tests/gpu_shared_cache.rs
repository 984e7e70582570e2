//! Several conversation slots sharing one cache weight, each slot's region
//! `capacity` rows long: one run writes every slot's new row at its own
//! position (a block per slot, copied from one batched value) and reads the
//! new cache in place as every slot's keys, padded to a common length.

mod common;

use common::gpu::{device, Rng};
use wgraph::graph::ops;
use wgraph::{CompileOptions, DType, Dim, Graph, Loader, Tensor, Weights};

const SLOTS: usize = 3;
const CAPACITY: usize = 6;
const WIDTH: usize = 4;

/// Slot `b`'s row of `new` (`[SLOTS, WIDTH]`, times 2) lands at `b *
/// CAPACITY + past_b`; `context` (`[SLOTS, 1, WIDTH]`) is each slot's `q`
/// row attending to its first `keys` rows of the new cache (keys and
/// values alike).
fn slots_graph() -> Graph {
    let g = Graph::new("slots");
    let cache = g.weight("cache", DType::F32, [SLOTS * CAPACITY, WIDTH]);
    let new = &g.input("new", DType::F32, [SLOTS, WIDTH]) * 2.0;
    let q = g.input("q", DType::F32, [SLOTS, 1, WIDTH]);
    let keys = Dim::sym("keys");
    g.input("keys_mask", DType::I64, [keys.clone()]);
    let mut parts = Vec::new();
    let mut end = Dim::new(0);
    for b in 0..SLOTS {
        let past = Dim::sym(format!("past{b}"));
        g.input(format!("past{b}"), DType::I64, [past.clone()]);
        let at = &Dim::new(b * CAPACITY) + &past;
        parts.push(ops::slice(&cache, 0, end.clone(), at.clone()));
        parts.push(ops::slice(&new, 0, b, b + 1));
        end = &at + &Dim::new(1);
    }
    parts.push(ops::slice(&cache, 0, end, SLOTS * CAPACITY));
    let updated = ops::concat(&parts.iter().collect::<Vec<_>>(), 0);
    let seen = ops::slice(&ops::reshape(&updated, [SLOTS, CAPACITY, WIDTH]), 1, 0, keys);
    let context = ops::attention(&q, &seen, &seen, None, Some(1.0));
    g.output_named([("cache", updated), ("context", context)]).unwrap();
    g
}

#[test]
fn every_slot_s_row_lands_in_its_region_and_the_keys_read_the_new_cache() {
    let mut rng = Rng(21);
    let initial = rng.floats(&[SLOTS * CAPACITY, WIDTH], -1.0, 1.0);
    let mut expected = initial.to_f32_vec();
    let options = CompileOptions { write_back: true, ..CompileOptions::default() };
    let weights = Weights::from_tensors([("cache", initial)]);
    let model = Loader::new(device()).with_options(options).load(&slots_graph(), &weights).unwrap();
    let write = &model.program().write_back[0];
    assert_eq!(write.blocks.len(), SLOTS, "one block per slot: {write:?}");
    assert_eq!(write.read_in_place_by.len(), 1, "the keys read the cache in place: {write:?}");
    assert!(model.program().kernels.iter().all(|k| !k.name.contains("concat")), "no kernel copies the cache");
    // Slots at different lengths, each step writing one row per slot.
    let mut pasts = [0usize, 3, 1];
    for _ in 0..3 {
        let new = rng.floats(&[SLOTS, WIDTH], -1.0, 1.0);
        let q = rng.floats(&[SLOTS, 1, WIDTH], -1.0, 1.0);
        let keys = pasts.iter().max().unwrap() + 1;
        let mut feed = vec![
            ("new".to_string(), new.clone()),
            ("q".to_string(), q.clone()),
            ("keys_mask".to_string(), Tensor::new([keys], vec![1i64; keys]).unwrap()),
        ];
        for (b, &p) in pasts.iter().enumerate() {
            feed.push((format!("past{b}"), Tensor::new([p], vec![1i64; p]).unwrap()));
        }
        let out = model.run(feed).unwrap();
        let new = new.to_f32_vec();
        for (b, &p) in pasts.iter().enumerate() {
            let row = (b * CAPACITY + p) * WIDTH;
            for c in 0..WIDTH {
                expected[row + c] = 2.0 * new[b * WIDTH + c];
            }
        }
        let (q, context) = (q.to_f32_vec(), out.get("context").unwrap().to_f32_vec());
        assert_eq!(context.len(), SLOTS * WIDTH);
        for b in 0..SLOTS {
            let row = |j: usize| &expected[(b * CAPACITY + j) * WIDTH..][..WIDTH];
            let scores: Vec<f32> = (0..keys).map(|j| (0..WIDTH).map(|c| q[b * WIDTH + c] * row(j)[c]).sum()).collect();
            let top = scores.iter().copied().fold(f32::MIN, f32::max);
            let total: f32 = scores.iter().map(|s| (s - top).exp()).sum();
            for c in 0..WIDTH {
                let want: f32 = (0..keys).map(|j| (scores[j] - top).exp() / total * row(j)[c]).sum();
                let got = context[b * WIDTH + c];
                assert!((got - want).abs() < 1e-5, "slot {b} feature {c} at pasts {pasts:?}: got {got}, want {want}");
            }
        }
        let now = model.read_weights(&["cache"]).unwrap().get("cache").unwrap().to_f32_vec();
        assert_eq!(now, expected, "at pasts {pasts:?}: each slot's row landed in its region, nothing else changed");
        pasts.iter_mut().for_each(|p| *p += 1);
    }
}

/// The same write for a target limited to fewer storage buffers per kernel
/// splits the wide concat into parts: still one write of every block.
#[test]
fn a_write_wider_than_a_kernel_s_buffers_is_still_in_place() {
    let options = CompileOptions { write_back: true, ..CompileOptions::default() };
    let target = wgraph::compile::Target { max_storage_buffers_per_stage: 4, ..wgraph::compile::Target::cpu_driver() };
    let program = wgraph::compile::compile(&slots_graph().ir().unwrap(), &options, &target).unwrap();
    let write = &program.write_back[0];
    assert_eq!(write.blocks.len(), SLOTS, "{write:?}");
    assert_eq!(write.read_in_place_by.len(), 1, "{write:?}");
}
