//! Workload `matmul` (the default): GFLOP/s of wgraph's matmul against
//! burn's on transformer-sized and square shapes, with checksums that must
//! agree.

use crate::failure::catch;
use crate::timing::best_seconds;
use burn::tensor::{Device, Tensor, TensorData};
use std::time::Duration;
use wgraph::graph::ops;
use wgraph::{Loader, DType, Graph, Tensor as WTensor, Weights};

const SHAPES: [(usize, usize, usize); 7] = [
    (256, 256, 256),
    (512, 512, 512),
    (1024, 1024, 1024),
    (2048, 2048, 2048),
    (128, 768, 768),
    (128, 768, 3072),
    (128, 3072, 768),
];

/// wgraph's figures for every shape: `(seconds, checksum)` with B a weight
/// and with B fed as an input.
pub struct Ours {
    weights: Vec<(f64, f32)>,
    fed: Vec<(f64, f32)>,
}

/// All wgraph rows (run before burn starts, see main.rs).
pub fn wgraph_side(device: &wgraph::Device) -> Ours {
    let weights = SHAPES.iter().map(|&(m, k, n)| wgraph_seconds(device, m, k, n, false)).collect();
    let fed = SHAPES.iter().map(|&(m, k, n)| wgraph_seconds(device, m, k, n, true)).collect();
    Ours { weights, fed }
}

/// burn's rows, then the table.
pub fn burn_side_and_print(ours: Ours, device: &Device, adapter: &str) {
    let theirs: Vec<Result<(f64, f32), String>> =
        SHAPES.iter().map(|&(m, k, n)| catch("burn matmul", || Ok(burn_seconds(device, m, k, n)))).collect();
    println!();
    println!("### Matmul GFLOP/s ({adapter})");
    println!();
    println!("| shape (m x k x n) | wgraph GFLOP/s | wgraph, B as input | burn GFLOP/s | wgraph / burn | B as input / burn | checksums |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (i, (m, k, n)) in SHAPES.into_iter().enumerate() {
        let flops = 2.0 * (m * k * n) as f64;
        let ((ours, our_sum), (fed, fed_sum)) = (ours.weights[i], ours.fed[i]);
        let (ours, fed) = (flops / ours / 1e9, flops / fed / 1e9);
        match &theirs[i] {
            Ok((theirs, their_sum)) => {
                let theirs = flops / theirs / 1e9;
                // All computed the same product: the checksums must agree.
                let agree = |x: f32| (x - their_sum).abs() <= 1e-3 * their_sum.abs().max(1.0);
                let verdict = if agree(our_sum) && agree(fed_sum) { "" } else { " MISMATCH" };
                println!(
                    "| {m} x {k} x {n} | {ours:.2} | {fed:.2} | {theirs:.2} | {:.2}x | {:.2}x | {our_sum:.3} / {fed_sum:.3} / {their_sum:.3}{verdict} |",
                    ours / theirs,
                    fed / theirs
                );
            }
            Err(reason) => println!("| {m} x {k} x {n} | {ours:.2} | {fed:.2} | failed: {reason} | - | - | - |"),
        }
    }
}

/// wgraph's matmul of two weights (A a buffer, B a texture on CPU
/// drivers), or with B fed as an input on every run (a buffer, uploaded
/// each time, as an activation would be).
fn wgraph_seconds(device: &wgraph::Device, m: usize, k: usize, n: usize, b_as_input: bool) -> (f64, f32) {
    let g = Graph::new("matmul");
    let a = g.weight("a", DType::F32, [m, k]);
    let b = if b_as_input { g.input("b", DType::F32, [k, n]) } else { g.weight("b", DType::F32, [k, n]) };
    g.output_named([("c", ops::matmul(&a, &b))]).expect("matmul graph is well-formed");
    let b_tensor = WTensor::new([k, n], fill(k * n)).expect("b matches its shape");
    let mut weights = vec![("a", WTensor::new([m, k], fill(m * k)).expect("a matches its shape"))];
    let mut feed = Vec::new();
    if b_as_input {
        feed.push(("b".to_string(), b_tensor));
    } else {
        weights.push(("b", b_tensor));
    }
    let model = Loader::new(device).load(&g, &Weights::from_tensors(weights)).expect("wgraph compiles a matmul");
    let mut checksum = 0.0;
    let secs = best_seconds(
        || {
            let out = model.run(feed.clone()).expect("wgraph runs the matmul");
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
    let secs = best_seconds(
        || {
            let c = a.clone().matmul(b.clone()).into_data();
            checksum = c.as_slice::<f32>().map(|v| v.iter().sum::<f32>()).unwrap_or(f32::NAN);
        },
        Duration::from_secs(3),
    );
    (secs, checksum)
}
