use std::time::Instant;
use wgraph::graph::ops;
use wgraph::{CompileOptions, Compiler, DType, Device, Graph, Tensor, Weights};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(400);
    let len: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(4096);
    let device = Device::new()?;
    let g = Graph::new("chain");
    let mut x = g.weight("x", DType::F32, [len]);
    for _ in 0..n {
        x = ops::exp(&ops::neg(&x));
        let _ = &x;
    }
    g.output_named([("y", x)])?;
    let weights = Weights::from_tensors([("x", Tensor::new([len], vec![0.5f32; len])?)]);
    let options = CompileOptions { fuse: false, ..Default::default() };
    let model = Compiler::new(&device).with_options(options).compile(&g, &weights)?;
    model.run(Vec::<(String, Tensor)>::new())?;
    let mut best = f64::MAX;
    for _ in 0..10 {
        let s = Instant::now();
        model.run(Vec::<(String, Tensor)>::new())?;
        best = best.min(s.elapsed().as_secs_f64());
    }
    println!("{} dispatches of {len}: {:.2} ms, {:.1} us each", 2 * n, best * 1e3, best * 1e6 / (2 * n) as f64);
    Ok(())
}
