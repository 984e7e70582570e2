//! Build a small encoder block, check its weights, dump it, run it on the
//! CPU reference interpreter and compiled on the GPU, and compare.
//! Run with `./scripts/demo.sh` (or `cargo run --example quickstart`).

use wgraph::graph::{ops, DumpFormat};
use wgraph::{DType, Device, Dim, Gelu, Graph, Interpreter, Loader, Tensor, WeightError, Weights};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (vocab, hidden) = (16usize, 8usize);
    let g = Graph::new("tiny_encoder");
    let ids = g.input("input_ids", DType::I64, [Dim::sym("batch"), Dim::sym("seq")]);
    let emb = g.weight("embeddings.word_embeddings.weight", DType::F32, [vocab, hidden]);
    let w_q = g.weight("encoder.query.weight", DType::F32, [hidden, hidden]);
    let b_q = g.weight("encoder.query.bias", DType::F32, [hidden]);
    let gamma = g.weight("encoder.LayerNorm.weight", DType::F32, [hidden]);
    let beta = g.weight("encoder.LayerNorm.bias", DType::F32, [hidden]);

    let x = ops::gather(&emb, &ids, 0);
    let q = ops::matmul(&x, &ops::transpose(&w_q, 0, 1)) + &b_q;
    let h = ops::layer_norm(&q, &gamma, &beta, 1e-12);
    g.output_named([("last_hidden_state", ops::gelu(&h, Gelu::Erf))])?;
    println!("{}", g.dump());
    if std::env::args().any(|a| a == "--dot") {
        println!("{}", g.dump_as(DumpFormat::Dot));
    }

    // A checkpoint with the classic mistakes: a misspelled name, a weight
    // saved [in, out], and a tensor the graph never reads.
    let ramp = |n: usize| (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.1).collect::<Vec<_>>();
    let mut tensors = vec![
        ("embeddings.word_embeddings.weight", Tensor::new([vocab, hidden], ramp(vocab * hidden))?),
        ("encoder.querry.weight", Tensor::new([hidden, hidden], ramp(hidden * hidden))?),
        ("encoder.query.bias", Tensor::new([hidden], ramp(hidden))?),
        ("encoder.LayerNorm.weight", Tensor::new([hidden, 1], vec![1.0; hidden])?),
        ("encoder.LayerNorm.bias", Tensor::new([hidden], vec![0.0; hidden])?),
        ("encoder.ln_post.weight", Tensor::new([hidden], vec![1.0; hidden])?),
    ];
    match g.check_weights(&Weights::from_tensors(tensors.clone())) {
        Err(WeightError::Check(report)) => println!("{report}"),
        other => println!("unexpected: {other:?}"),
    }

    // Fixed checkpoint: runs on the interpreter.
    tensors[1].0 = "encoder.query.weight";
    tensors[3].1 = Tensor::new([hidden], vec![1.0; hidden])?;
    tensors.pop();
    let weights = Weights::from_tensors(tensors);
    let checked = g.check_weights(&weights)?;
    print!("{checked}");
    let ids = Tensor::new([1, 3], vec![1i64, 5, 9])?;
    let out = Interpreter::new().run(&g, &weights, [("input_ids", ids.clone())])?;
    let cpu = out.get("last_hidden_state").ok_or("no output")?;
    println!("interpreter: last_hidden_state {:?}: {:?}", cpu.shape(), &cpu.to_f32_vec()[..hidden]);

    // The same graph compiled for the GPU (lavapipe when there is none).
    let device = Device::new()?;
    let model = Loader::new(&device).load(&g, &weights)?;
    let kernels: Vec<&str> = model.program().kernels.iter().map(|k| k.name.as_str()).collect();
    println!("compiled for {} into {} kernels: {}", device.describe(), kernels.len(), kernels.join(", "));
    let out = model.run([("input_ids", ids)])?;
    let gpu = out.get("last_hidden_state").ok_or("no output")?;
    println!("gpu:         last_hidden_state {:?}: {:?}", gpu.shape(), &gpu.to_f32_vec()[..hidden]);
    let worst = cpu.to_f32_vec().iter().zip(gpu.to_f32_vec()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    println!("max |gpu - interpreter| = {worst:e}");
    Ok(())
}
