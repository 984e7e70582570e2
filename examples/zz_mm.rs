use std::time::Instant;
use wgraph::compile::MatmulKernel;
use wgraph::graph::ops;
use wgraph::{CompileOptions, Compiler, DType, Device, Graph, Tensor, Weights};
// zz_mm M K N [--ta] : C = A @ W^T (W [N,K]) or with --ta C = X^T @ Y (X [K,M], Y [K,N])
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (m, k, n) = (a[0], a[1], a[2]);
    let ta = std::env::args().any(|a| a == "--ta");
    let device = Device::new()?;
    let g = Graph::new("mm");
    let (xs, ys) = if ta { ([k, m], [k, n]) } else { ([m, k], [n, k]) };
    let x = g.weight("x", DType::F32, xs);
    let y = g.weight("y", DType::F32, ys);
    let out = if ta { ops::matmul(&ops::transpose(&x, 0, 1), &y) } else { ops::linear(&x, &y, None) };
    g.output_named([("y", out)])?;
    let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<f32>>();
    let w = Weights::from_tensors([("x", Tensor::new(xs, fill(m * k))?), ("y", Tensor::new(ys, fill(k * n))?)]);
    let reg = |tm, tn, wx, wy, subgroup_a| MatmulKernel::Register { tm, tn, wx, wy, subgroup_a };
    let configs = [
        None,
        Some(reg(2, 4, 4, 8, false)),
        Some(reg(8, 4, 4, 8, false)),
        Some(reg(8, 4, 4, 16, false)),
        Some(reg(4, 4, 4, 16, false)),
        Some(reg(8, 8, 8, 8, false)),
        Some(reg(8, 16, 8, 8, false)),
        Some(reg(32, 8, 8, 2, true)),
        Some(reg(16, 8, 8, 2, true)),
        Some(reg(16, 8, 8, 4, true)),
    ];
    let mut models = vec![];
    for c in configs {
        let options = CompileOptions { matmul: c, texture_weights: false, ..Default::default() };
        match Compiler::new(&device).with_options(options).compile(&g, &w) {
            Ok(model) => {
                model.run(Vec::<(String, Tensor)>::new())?;
                models.push((c, model));
            }
            Err(e) => println!("{c:?}: {e}"),
        }
    }
    let mut best = vec![f64::MAX; models.len()];
    for _ in 0..6 {
        for (i, (_, md)) in models.iter().enumerate() {
            for _ in 0..3 {
                let s = Instant::now();
                md.run(Vec::<(String, Tensor)>::new())?;
                best[i] = best[i].min(s.elapsed().as_secs_f64());
            }
        }
    }
    for ((c, md), b) in models.iter().zip(best) {
        println!(
            "{:?} {:?}: {:.3} ms {:.1} GFLOP/s",
            c,
            md.program().kernels[0].grid,
            b * 1e3,
            2.0 * (m * k * n) as f64 / b / 1e9
        );
    }
    Ok(())
}
