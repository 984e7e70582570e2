use wgraph::compile::MatmulKernel;
use wgraph::graph::ops;
use wgraph::{CompileOptions, Compiler, DType, Device, Graph, Tensor, Weights};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<usize> = std::env::args().skip(1).filter_map(|x| x.parse().ok()).collect();
    let (m, k, n, tm, tn, wy, sub, reps) = (a[0], a[1], a[2], a[3] as u32, a[4] as u32, a[5] as u32, a[6] == 1, a[7]);
    let device = Device::new()?;
    let g = Graph::new("mm");
    let x = g.input("x", DType::F32, [m, k]);
    let w = g.weight("w", DType::F32, [n, k]);
    g.output_named([("y", ops::linear(&x, &w, None))])?;
    let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<f32>>();
    let weights = Weights::from_tensors([("w", Tensor::new([n, k], fill(n * k))?)]);
    let kernel = MatmulKernel::Register { tm, tn, wx: 8, wy, subgroup_a: sub };
    let model = Compiler::new(&device)
        .with_options(CompileOptions { matmul: Some(kernel), ..Default::default() })
        .compile(&g, &weights)?;
    let feed = vec![("x".to_string(), Tensor::new([m, k], fill(m * k))?)];
    model.run(feed.clone())?;
    let mut best = f64::INFINITY;
    let t0 = std::time::Instant::now();
    for _ in 0..reps {
        let t = std::time::Instant::now();
        model.run(feed.clone())?;
        best = best.min(t.elapsed().as_secs_f64());
    }
    let total = t0.elapsed().as_secs_f64();
    println!(
        "{kernel:?}: best {:.2} ms = {:.1} GFLOP/s; avg {:.2} ms",
        best * 1e3,
        2.0 * (m * k * n) as f64 / best / 1e9,
        total / reps as f64 * 1e3
    );
    Ok(())
}
