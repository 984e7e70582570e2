//! Kernel tiers: a `TieredModel` answers with quick kernels, swaps in the
//! tuned ones compiled in the background, and both agree with the
//! interpreter; `Model::warm_up` dispatches every kernel and variant.

mod common;

use common::assert_close;
use common::gpu::device;
use wgraph::compile::compile;
use wgraph::graph::ops;
use wgraph::{
    CompileOptions, DType, Device, Dim, Graph, Interpreter, KernelTier, LoadError, Loader, RuntimeError, Settings,
    Tensor, Weights,
};

const D: usize = 64;
const HEADS: usize = 4;

/// A self-attention block over `[batch, seq, 64]`: Q/K/V projections,
/// four heads of 16, softmax attention (fused into one kernel), output
/// projection. Big enough that the tuned kernels (the 16x8 subgroup
/// matmul block, 16 attention rows per invocation) differ from the quick
/// ones, small enough to compile in seconds.
fn attention_block() -> (Graph, Weights) {
    let g = Graph::new("attention_block");
    let (b, s) = (Dim::sym("batch"), Dim::sym("seq"));
    let x = g.input("x", DType::F32, [b.clone(), s.clone(), Dim::new(D)]);
    let hd = D / HEADS;
    let heads = |v: &wgraph::graph::Value| {
        ops::permute(&ops::reshape(v, [b.clone(), s.clone(), Dim::new(HEADS), Dim::new(hd)]), &[0, 2, 1, 3])
    };
    let proj = |name: &str, v: &wgraph::graph::Value| {
        let w = g.weight(format!("{name}.weight"), DType::F32, [D, D]);
        ops::linear(v, &w, None)
    };
    let (q, k, v) = (heads(&proj("q", &x)), heads(&proj("k", &x)), heads(&proj("v", &x)));
    let scores = ops::matmul(&q, &ops::transpose(&k, -1, -2)) * (1.0 / (hd as f64).sqrt());
    let context = ops::matmul(&ops::softmax(&scores, -1), &v);
    let merged = ops::reshape(&ops::permute(&context, &[0, 2, 1, 3]), [b.clone(), s.clone(), Dim::new(D)]);
    g.output_named([("y", proj("o", &merged))]).unwrap();
    let mut rng = common::Rng(7);
    let weights = Weights::from_tensors(["q", "k", "v", "o"].map(|n| {
        let w: Vec<f32> = (0..D * D).map(|_| rng.uniform(-0.25, 0.25)).collect();
        (format!("{n}.weight"), Tensor::new([D, D], w).unwrap())
    }));
    (g, weights)
}

fn input(batch: usize, seq: usize, seed: u64) -> Vec<(String, Tensor)> {
    let mut rng = common::Rng(seed);
    let x: Vec<f32> = (0..batch * seq * D).map(|_| rng.uniform(-1.0, 1.0)).collect();
    vec![("x".to_string(), Tensor::new([batch, seq, D], x).unwrap())]
}

/// A device whose settings keep the compiled-kernels markers in `dir`.
fn device_with(dir: &std::path::Path, tier: Option<&str>, driver_cache_disabled: bool) -> Device {
    let settings = Settings {
        pipeline_cache: Some(dir.to_path_buf()),
        tier: tier.map(String::from),
        driver_cache_disabled,
        ..Settings::default()
    };
    Device::with_settings(settings).expect("GPU tests need an adapter")
}

fn markers(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("driver-compiled")).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn the_quick_tier_generates_smaller_kernels_for_the_same_math() {
    let (g, _) = attention_block();
    let ir = g.ir().unwrap();
    let target = device().target();
    let program = |tier| compile(&ir, &CompileOptions { tier, ..CompileOptions::default() }, &target).unwrap();
    let (tuned, quick) = (program(KernelTier::Tuned), program(KernelTier::Quick));
    let names = |p: &wgraph::Program| p.kernels.iter().map(|k| k.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&tuned), names(&quick), "the same kernels, in the same order");
    assert!(names(&tuned).iter().any(|n| n.ends_with("attention")), "{:?}", names(&tuned));
    if device().compiles_at_first_dispatch() {
        let differ = tuned.kernels.iter().zip(&quick.kernels).filter(|(t, q)| t.wgsl != q.wgsl).count();
        assert!(differ >= 2, "the matmuls and the attention get quick variants, {differ} differ");
        // Quick kernels are shorter: fewer unrolled accumulators.
        let size = |p: &wgraph::Program| p.kernels.iter().map(|k| k.wgsl.len()).sum::<usize>();
        assert!(size(&quick) < size(&tuned), "quick {} vs tuned {} bytes of WGSL", size(&quick), size(&tuned));
    }
}

#[test]
fn a_tiered_model_serves_quick_then_tuned_kernels_with_the_same_results() {
    let (g, weights) = attention_block();
    let dir = tempfile::tempdir().unwrap();
    let device = device_with(dir.path(), None, false);
    let feed = input(2, 19, 1);
    let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
    let want = want.get("y").unwrap();

    let model = Loader::new(&device).load_tiered(&g, &weights).unwrap();
    let lazy = device.compiles_at_first_dispatch();
    let first_tier = model.tier();
    if lazy {
        assert_eq!(first_tier, KernelTier::Quick, "lavapipe compiles at first dispatch: quick kernels first");
    } else {
        assert_eq!(first_tier, KernelTier::Tuned, "drivers that compile at creation get one tier");
    }
    let first = model.run(feed.clone()).unwrap();
    assert_close(first.get("y").unwrap(), want, 1e-4, 1e-5, &format!("{first_tier:?} kernels"));

    let tuned = model.wait_tuned().unwrap();
    assert_eq!(model.tier(), KernelTier::Tuned);
    let then = model.run(feed.clone()).unwrap();
    assert_close(then.get("y").unwrap(), want, 1e-4, 1e-5, "tuned kernels");
    // Other sizes after the swap, straight from the tuned model too.
    let other = input(1, 5, 2);
    let want_other = Interpreter::new().run(&g, &weights, other.clone()).unwrap();
    assert_close(
        tuned.run(other).unwrap().get("y").unwrap(),
        want_other.get("y").unwrap(),
        1e-4,
        1e-5,
        "tuned kernels, batch 1 x seq 5 (few-rows variants)",
    );
    if lazy {
        assert_eq!(markers(dir.path()), 1, "the background compile leaves a marker");
        // The next model of the same graph trusts the driver's cache: tuned from the start.
        let again = Loader::new(&device).load_tiered(&g, &weights).unwrap();
        assert_eq!(again.tier(), KernelTier::Tuned);
        assert_close(again.run(feed).unwrap().get("y").unwrap(), want, 1e-4, 1e-5, "marked: tuned at once");
    }
}

#[test]
fn one_tier_when_set_or_when_the_driver_cache_is_off() {
    let (g, weights) = attention_block();
    let feed = input(1, 7, 3);
    let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
    for (tier, cache_off, expected) in [
        (Some("quick"), false, KernelTier::Quick),
        (Some(" Tuned "), false, KernelTier::Tuned),
        (None, true, KernelTier::Tuned),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let device = device_with(dir.path(), tier, cache_off);
        let model = Loader::new(&device).load_tiered(&g, &weights).unwrap();
        let what = format!("WGRAPH_TIER={tier:?}, Mesa cache off: {cache_off}");
        assert_eq!(model.tier(), expected, "{what}");
        let served = model.wait_tuned().unwrap();
        assert_eq!(model.tier(), expected, "{what}: nothing swaps in");
        assert_close(served.run(feed.clone()).unwrap().get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-5, &what);
        assert_eq!(markers(dir.path()), 0, "{what}: no background compile, no marker");
    }
}

#[test]
fn an_unknown_tier_is_refused_by_name() {
    let (g, weights) = attention_block();
    let dir = tempfile::tempdir().unwrap();
    let device = device_with(dir.path(), Some("fastest"), false);
    let Err(LoadError::Runtime(e @ RuntimeError::UnknownTier { .. })) = Loader::new(&device).load_tiered(&g, &weights)
    else {
        panic!("expected UnknownTier")
    };
    let text = e.to_string();
    assert!(text.contains("WGRAPH_TIER=fastest") && text.contains("tuned, quick"), "{text}");
}

#[test]
fn warm_up_dispatches_every_kernel_and_variant_and_leaves_the_weights_alone() {
    let (g, weights) = attention_block();
    let model = Loader::new(device()).load(&g, &weights).unwrap();
    let variants = model.program().kernels.iter().filter(|k| k.few_rows.is_some()).count();
    let dispatched = model.warm_up().unwrap();
    assert_eq!(dispatched, model.program().kernels.len() + variants);
    let feed = input(2, 9, 4);
    let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
    assert_close(model.run(feed).unwrap().get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-5, "after warm-up");
}

#[test]
fn a_model_sharing_weights_gets_one_tier_and_sees_the_shared_values() {
    let (g, weights) = attention_block();
    let dir = tempfile::tempdir().unwrap();
    let device = device_with(dir.path(), None, false);
    // The owner keeps its weights in buffers, as a training model does.
    let options = CompileOptions { texture_weights: false, ..CompileOptions::default() };
    let owner = Loader::new(&device).with_options(options).load(&g, &weights).unwrap();
    let shared = Loader::new(&device).sharing_weights_with(&owner).load_tiered(&g, &weights).unwrap();
    assert_eq!(shared.tier(), KernelTier::Tuned, "a background copy would stop seeing the owner's buffers");
    // New values written into the owner's weight are what the sharer reads.
    let zeros = Tensor::zeros(DType::F32, [D, D]).unwrap();
    owner.write_weights(&[("o.weight".to_string(), zeros)]).unwrap();
    let y = shared.run(input(1, 3, 5)).unwrap();
    assert!(y.get("y").unwrap().to_f32_vec().iter().all(|&v| v == 0.0), "the output projection is now zero");
    assert_eq!(markers(dir.path()), 0);
}

/// Weights the owner holds as textures are read from those textures by a
/// model sharing its weights (a generator's prefill, a server's slots), not
/// from buffers: the fast kernels on CPU drivers, and no second copy.
#[test]
fn a_model_sharing_weights_reads_the_owners_textures() {
    let (g, weights) = attention_block();
    let owner = Loader::new(device()).load(&g, &weights).unwrap();
    let sharer = Loader::new(device()).sharing_weights_with(&owner).load(&g, &weights).unwrap();
    let textured = |m: &wgraph::Model| -> Vec<String> {
        m.program().kernels.iter().filter(|k| !k.textures.is_empty()).map(|k| k.name.clone()).collect()
    };
    // Weight textures are a CPU-driver choice; elsewhere both read buffers.
    let cpu = device().info().device_type == wgpu::DeviceType::Cpu;
    assert_eq!(!textured(&owner).is_empty(), cpu, "the owner reads its projections from textures on a CPU driver");
    assert_eq!(textured(&sharer), textured(&owner), "the sharer reads the same weights from textures");
    let feed = input(2, 7, 3);
    let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
    assert_close(sharer.run(feed).unwrap().get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-5, "sharer");
}

#[test]
fn the_background_waits_for_the_first_result_and_a_one_shot_process_exits_without_it() {
    let (g, weights) = attention_block();
    let dir = tempfile::tempdir().unwrap();
    let device = device_with(dir.path(), None, false);
    if !device.compiles_at_first_dispatch() {
        return; // one tier: no background to hold back
    }
    let feed = input(1, 6, 8);
    let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
    // Loaded and dropped before any run: nothing was compiled for the tuned tier.
    drop(Loader::new(&device).load_tiered(&g, &weights).unwrap());
    assert_eq!(markers(dir.path()), 0, "a model dropped before its first result compiles no tuned kernels");
    // One result then drop, as `wgraph embed` does: the drop stops the
    // background before it finishes, so it leaves no marker either.
    let model = Loader::new(&device).load_tiered(&g, &weights).unwrap();
    let first = model.run(feed.clone()).unwrap();
    assert_close(first.get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-5, "one-shot quick run");
    drop(model);
    assert_eq!(markers(dir.path()), 0, "stopped before every tuned kernel compiled: no marker");
    // A caller using `current` opens the gate at its second call.
    let model = Loader::new(&device).load_tiered(&g, &weights).unwrap();
    let y = model.current().run(feed.clone()).unwrap();
    assert_close(y.get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-5, "through current()");
    let _ = model.current();
    model.wait_tuned().unwrap();
    assert_eq!(model.tier(), KernelTier::Tuned);
    assert_eq!(markers(dir.path()), 1, "the background ran to the end: a marker");
}
