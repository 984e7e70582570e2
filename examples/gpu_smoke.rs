use wgraph::graph::ops;
use wgraph::{Compiler, DType, Dim, Graph, Interpreter, Tensor, Weights};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let device = wgraph::Device::new()?;
    let g = Graph::new("smoke");
    let x = g.input("x", DType::F32, [Dim::sym("n"), 3.into()]);
    let w = g.weight("w", DType::F32, [4usize, 3]);
    let y = ops::gelu(&(ops::linear(&x, &w, None) * 2.0), wgraph::Gelu::Erf);
    let s = ops::softmax(&y, -1);
    g.output_named([("y", y), ("s", s)])?;
    let weights = Weights::from_tensors([("w", Tensor::new([4, 3], (0..12).map(|i| i as f32 * 0.1 - 0.5).collect())?)]);
    let model = Compiler::new(&device).compile(&g, &weights)?;
    for k in &model.program().kernels {
        println!("{}", k.name);
    }
    let input = Tensor::new([2, 3], vec![1f32, 2., 3., -1., 0.5, 0.25])?;
    let out = model.run([("x", input.clone())])?;
    let reference = Interpreter::new().run(&g, &weights, [("x", input)])?;
    for (n, t) in out.iter() {
        println!("{n} gpu {:?}\n  cpu {:?}", t.to_f32_vec(), reference.get(n).unwrap().to_f32_vec());
    }
    Ok(())
}
