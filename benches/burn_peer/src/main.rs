//! Matmul GFLOP/s of wgraph and burn (wgpu backend) on the same adapter, in
//! one run, printed as a table with the ratio wgraph / burn.

use burn::backend::wgpu::{Wgpu, WgpuDevice};
use burn::tensor::{Distribution, Tensor};
use std::time::{Duration, Instant};
use wgraph::graph::ops;
use wgraph::{Compiler, DType, Graph, Tensor as WTensor, Weights};

/// Median seconds of `f` over enough repetitions to fill `budget`.
fn time(mut f: impl FnMut(), budget: Duration) -> f64 {
    f(); // warm-up (pipeline creation, autotuning)
    f();
    let mut samples = Vec::new();
    let start = Instant::now();
    while samples.len() < 3 || (start.elapsed() < budget && samples.len() < 50) {
        let t = Instant::now();
        f();
        samples.push(t.elapsed().as_secs_f64());
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    samples[samples.len() / 2]
}

fn wgraph_seconds(device: &wgraph::Device, m: usize, k: usize, n: usize) -> f64 {
    let g = Graph::new("matmul");
    let a = g.weight("a", DType::F32, [m, k]);
    let b = g.weight("b", DType::F32, [k, n]);
    g.output_named([("c", ops::matmul(&a, &b))]).expect("graph");
    let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<f32>>();
    let weights = Weights::from_tensors([
        ("a", WTensor::new([m, k], fill(m * k)).expect("a")),
        ("b", WTensor::new([k, n], fill(k * n)).expect("b")),
    ]);
    let model = Compiler::new(device).compile(&g, &weights).expect("compile");
    time(|| drop(model.run(Vec::<(String, WTensor)>::new()).expect("run")), Duration::from_secs(3))
}

fn burn_seconds(device: &WgpuDevice, m: usize, k: usize, n: usize) -> f64 {
    let a = Tensor::<Wgpu, 2>::random([m, k], Distribution::Uniform(-0.5, 0.5), device);
    let b = Tensor::<Wgpu, 2>::random([k, n], Distribution::Uniform(-0.5, 0.5), device);
    // Reading the result back includes synchronisation, like wgraph's run.
    time(|| drop(a.clone().matmul(b.clone()).into_data()), Duration::from_secs(3))
}

fn main() {
    let device = wgraph::Device::new().expect("wgraph device");
    let burn_device = WgpuDevice::default();
    println!("adapter: {}", device.describe());
    println!("{:<22} {:>14} {:>14} {:>8}", "shape (m x k x n)", "wgraph GFLOP/s", "burn GFLOP/s", "ratio");
    let shapes = [
        (256, 256, 256),
        (512, 512, 512),
        (1024, 1024, 1024),
        (2048, 2048, 2048),
        (128, 768, 768),
        (128, 768, 3072),
        (128, 3072, 768),
    ];
    for (m, k, n) in shapes {
        let flops = 2.0 * (m * k * n) as f64;
        let ours = flops / wgraph_seconds(&device, m, k, n) / 1e9;
        let theirs = flops / burn_seconds(&burn_device, m, k, n) / 1e9;
        println!("{:<22} {:>14.2} {:>14.2} {:>7.2}x", format!("{m} x {k} x {n}"), ours, theirs, ours / theirs);
    }
}
