use std::time::Instant;
use wgraph::compile::MatmulKernel;
use wgraph::graph::ops;
use wgraph::{CompileOptions, Compiler, DType, Device, Graph, Tensor, Weights};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (rows, m, n) = (a[0], a[1], a[2]);
    let ta = std::env::args().any(|a| a == "--ta");
    let device = Device::new()?;
    let g = Graph::new("wgrad");
    let x = g.weight("x", DType::F32, [rows, m]);
    let dy = g.weight("dy", DType::F32, [rows, n]);
    let y = if ta { ops::matmul(&ops::transpose(&x, 0, 1), &dy) } else { ops::matmul(&x, &ops::transpose(&dy, 0, 1)) };
    g.output_named([("y", y)])?;
    let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<f32>>();
    let w = Weights::from_tensors([
        ("x", Tensor::new([rows, m], fill(rows * m))?),
        ("dy", Tensor::new([rows, n], fill(rows * n))?),
    ]);
    let reg = |tm, tn, wx, wy, subgroup_a| MatmulKernel::Register { tm, tn, wx, wy, subgroup_a };
    let configs = [
        None,
        Some(reg(8, 16, 8, 8, false)),
        Some(reg(2, 4, 4, 8, false)),
        Some(reg(4, 4, 8, 8, false)),
        Some(reg(4, 8, 8, 8, false)),
        Some(reg(4, 4, 8, 2, false)),
        Some(reg(8, 8, 8, 2, false)),
        Some(reg(32, 8, 8, 2, true)),
    ];
    let mut models = vec![];
    for c in configs {
        let options = CompileOptions { matmul: c, texture_weights: false, write_back: false, ..Default::default() };
        let model = Compiler::new(&device).with_options(options).compile(&g, &w)?;
        model.run(Vec::<(String, Tensor)>::new())?;
        models.push((c, model));
    }
    let mut best = vec![f64::MAX; models.len()];
    for _ in 0..5 {
        for (i, (_, m)) in models.iter().enumerate() {
            for _ in 0..3 {
                let s = Instant::now();
                m.run(Vec::<(String, Tensor)>::new())?;
                best[i] = best[i].min(s.elapsed().as_secs_f64());
            }
        }
    }
    for ((c, model), b) in models.iter().zip(best) {
        println!(
            "{:?} {:?}: {:.3} ms {:.1} GFLOP/s",
            c,
            model.program().kernels[0].grid,
            b * 1e3,
            2.0 * (rows * m * n) as f64 / b / 1e9
        );
    }
    Ok(())
}
