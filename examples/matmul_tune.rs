//! Measures matmul GFLOP/s of each kernel configuration on this adapter,
//! to choose the defaults: `cargo run --release --example matmul_tune [m k n]
//! [--nt] [--buffers]`.

use std::time::Instant;
use wgraph::compile::{register_vector, register_vector_shared, MatmulKernel, REGISTER, REGISTER_SUBGROUP};
use wgraph::graph::ops;
use wgraph::{CompileOptions, DType, Device, Graph, Loader, Tensor, Weights};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    // --nt: B is a Linear weight stored [n, k] (read transposed in place).
    let nt = std::env::args().any(|a| a == "--nt");
    // --buffers: B stays a storage buffer instead of a texture.
    let texture_weights = !std::env::args().any(|a| a == "--buffers");
    let (m, k, n) = match args[..] {
        [m, k, n] => (m, k, n),
        _ => (1024, 1024, 1024),
    };
    let device = Device::new()?;
    println!("{} — {m} x {k} x {n}{}", device.describe(), if nt { " (B transposed)" } else { "" });
    let g = Graph::new("matmul");
    let a = g.weight("a", DType::F32, [m, k]);
    let b = g.weight("b", DType::F32, if nt { [n, k] } else { [k, n] });
    g.output_named([("c", if nt { ops::linear(&a, &b, None) } else { ops::matmul(&a, &b) })])?;
    let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<f32>>();
    let weights = Weights::from_tensors([
        ("a", Tensor::new([m, k], fill(m * k))?),
        ("b", Tensor::new(if nt { [n, k] } else { [k, n] }, fill(k * n))?),
    ]);
    let reg = |tm, tn, wx, wy, subgroup_a| MatmulKernel::Register { tm, tn, wx, wy, subgroup_a };
    let lanes = device.subgroup_size();
    let configs = if m <= 16 {
        // A decode step's few rows: the matrix-vector kernel, with A loaded
        // per lane or shared across a subgroup.
        let mut configs = vec![register_vector(m as u32), wgraph::compile::REGISTER_SMALL];
        if let Some(lanes) = lanes {
            configs.extend([register_vector_shared(m as u32, lanes), reg(m as u32, 8, lanes, 1, true)]);
        }
        configs
    } else {
        let mut configs = vec![REGISTER, reg(12, 16, 8, 8, false)];
        // Sharing A across a subgroup needs subgroups of `wx` lanes.
        if lanes == Some(8) {
            configs.extend([REGISTER_SUBGROUP, reg(32, 8, 8, 2, true), reg(32, 8, 8, 4, true), reg(48, 8, 8, 2, true)]);
        }
        configs.push(MatmulKernel::Tiled { tile: 32, tm: 4 });
        configs
    };
    let mut models = Vec::new();
    for config in configs {
        let options = CompileOptions { matmul: Some(config), texture_weights, ..Default::default() };
        let start = Instant::now();
        let model = Loader::new(&device).with_options(options).load(&g, &weights)?;
        model.run(Vec::<(String, Tensor)>::new())?; // drivers may compile lazily
        println!("{config:?}: compiled and first run in {:.2} s", start.elapsed().as_secs_f64());
        models.push((config, model));
    }
    // Interleaved rounds, best time per configuration: the machine is
    // shared. The product's own time (GPU timestamps) where the device has
    // them: a small product's run is mostly submission and read-back.
    let mut best = vec![f64::INFINITY; models.len()];
    for _round in 0..4 {
        for (i, (_, model)) in models.iter().enumerate() {
            model.run(Vec::<(String, Tensor)>::new())?;
            for _ in 0..2 {
                let start = Instant::now();
                let secs = match model.profile_timestamps(Vec::new())? {
                    Some(times) => times.iter().map(|t| t.ms).sum::<f64>() / 1e3,
                    None => {
                        model.run(Vec::<(String, Tensor)>::new())?;
                        start.elapsed().as_secs_f64()
                    }
                };
                best[i] = best[i].min(secs);
            }
        }
    }
    for ((config, _), secs) in models.iter().zip(best) {
        println!("{config:?}: {:.1} GFLOP/s", 2.0 * (m * k * n) as f64 / secs / 1e9);
    }
    Ok(())
}
