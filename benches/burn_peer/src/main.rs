//! Matmul GFLOP/s of wgraph and burn (wgpu backend) on the same adapter, in
//! one run, printed as a table with the ratio wgraph / burn.

use burn::tensor::{Device, Tensor, TensorData};
use std::time::{Duration, Instant};
use wgraph::graph::ops;
use wgraph::{Compiler, DType, Graph, Tensor as WTensor, Weights};

/// Best seconds of `f` over several runs after two warm-ups (pipeline
/// creation, autotuning). The machine may be shared; the minimum is the
/// kernel's own time.
fn time(mut f: impl FnMut(), budget: Duration) -> f64 {
    f();
    f();
    let mut best = f64::INFINITY;
    let start = Instant::now();
    let mut runs = 0;
    while runs < 5 || (start.elapsed() < budget && runs < 30) {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    best
}

/// wgraph's matmul of two weights (A a buffer, B a texture on CPU
/// drivers), or with B fed as an input on every run (a buffer, uploaded
/// each time, as an activation would be).
fn wgraph_seconds(device: &wgraph::Device, m: usize, k: usize, n: usize, b_as_input: bool) -> (f64, f32) {
    let g = Graph::new("matmul");
    let a = g.weight("a", DType::F32, [m, k]);
    let b = if b_as_input { g.input("b", DType::F32, [k, n]) } else { g.weight("b", DType::F32, [k, n]) };
    g.output_named([("c", ops::matmul(&a, &b))]).expect("graph");
    let b_tensor = WTensor::new([k, n], fill(k * n)).expect("b");
    let mut weights = vec![("a", WTensor::new([m, k], fill(m * k)).expect("a"))];
    let mut feed = Vec::new();
    if b_as_input {
        feed.push(("b".to_string(), b_tensor));
    } else {
        weights.push(("b", b_tensor));
    }
    let model = Compiler::new(device).compile(&g, &Weights::from_tensors(weights)).expect("compile");
    let mut checksum = 0.0;
    let secs = time(
        || {
            let out = model.run(feed.clone()).expect("run");
            checksum = out.get("c").map(|t| t.to_f32_vec().iter().sum::<f32>()).unwrap_or(f32::NAN);
        },
        Duration::from_secs(3),
    );
    (secs, checksum)
}

fn fill(len: usize) -> Vec<f32> {
    (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect()
}

fn burn_seconds(device: &Device, m: usize, k: usize, n: usize) -> (f64, f32) {
    let a = Tensor::<2>::from_data(TensorData::new(fill(m * k), [m, k]), device);
    let b = Tensor::<2>::from_data(TensorData::new(fill(k * n), [k, n]), device);
    let mut checksum = 0.0;
    // Reading the result back includes synchronisation, like wgraph's run.
    let secs = time(
        || {
            let c = a.clone().matmul(b.clone()).into_data();
            checksum = c.as_slice::<f32>().map(|v| v.iter().sum::<f32>()).unwrap_or(f32::NAN);
        },
        Duration::from_secs(3),
    );
    (secs, checksum)
}

fn main() {
    let device = wgraph::Device::new().expect("wgraph device");
    println!("adapter: {}", device.describe());
    println!(
        "{:<22} {:>14} {:>16} {:>14} {:>8} {:>10}",
        "shape (m x k x n)", "wgraph GFLOP/s", "(B as input)", "burn GFLOP/s", "ratio", "(B input)"
    );
    let shapes = [
        (256, 256, 256),
        (512, 512, 512),
        (1024, 1024, 1024),
        (2048, 2048, 2048),
        (128, 768, 768),
        (128, 768, 3072),
        (128, 3072, 768),
    ];
    // All of wgraph first, then all of burn: burn's runtime keeps threads
    // of its own alive once started, and on a 2-core machine anything
    // running beside lavapipe's workers shows in the other's time.
    let ours: Vec<(f64, f32)> = shapes.iter().map(|&(m, k, n)| wgraph_seconds(&device, m, k, n, false)).collect();
    let fed: Vec<(f64, f32)> = shapes.iter().map(|&(m, k, n)| wgraph_seconds(&device, m, k, n, true)).collect();
    let burn_device = Device::wgpu(Default::default());
    let theirs: Vec<(f64, f32)> = shapes.iter().map(|&(m, k, n)| burn_seconds(&burn_device, m, k, n)).collect();
    for (i, (m, k, n)) in shapes.into_iter().enumerate() {
        let flops = 2.0 * (m * k * n) as f64;
        let ((ours, our_sum), (fed, fed_sum), (theirs, their_sum)) = (ours[i], fed[i], theirs[i]);
        // All computed the same product: the checksums must agree.
        let agree = |x: f32| (x - their_sum).abs() <= 1e-3 * their_sum.abs().max(1.0);
        let (ours, fed, theirs) = (flops / ours / 1e9, flops / fed / 1e9, flops / theirs / 1e9);
        println!(
            "{:<22} {:>14.2} {:>16.2} {:>14.2} {:>7.2}x {:>9.2}x  checksums {our_sum:.3} / {fed_sum:.3} / {their_sum:.3}{}",
            format!("{m} x {k} x {n}"),
            ours,
            fed,
            theirs,
            ours / theirs,
            fed / theirs,
            if agree(our_sum) && agree(fed_sum) { "" } else { "  MISMATCH" }
        );
    }
}
