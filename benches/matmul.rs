//! Matmul throughput on the current adapter (criterion reports elements/s
//! where one element is one floating-point operation, i.e. FLOP/s).
//! `cargo bench --bench matmul`; the peer comparison against burn lives in
//! benches/burn_peer.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use wgraph::graph::ops;
use wgraph::{DType, Device, Graph, Loader, Tensor, Weights};

fn bench(c: &mut Criterion) {
    let device = Device::new().expect("an adapter (run ./scripts/setup.sh)");
    let mut group = c.benchmark_group(format!("matmul on {}", device.describe()));
    group.sample_size(10);
    let shapes =
        [(256, 256, 256), (512, 512, 512), (1024, 1024, 1024), (2048, 2048, 2048), (128, 768, 3072), (128, 3072, 768)];
    for (m, k, n) in shapes {
        let g = Graph::new("matmul");
        let a = g.weight("a", DType::F32, [m, k]);
        let b = g.weight("b", DType::F32, [k, n]);
        g.output_named([("c", ops::matmul(&a, &b))]).expect("graph");
        let fill = |len: usize| (0..len).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect::<Vec<f32>>();
        let weights = Weights::from_tensors([
            ("a", Tensor::new([m, k], fill(m * k)).expect("a")),
            ("b", Tensor::new([k, n], fill(k * n)).expect("b")),
        ]);
        let model = Loader::new(&device).load(&g, &weights).expect("compile");
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        group.bench_function(BenchmarkId::from_parameter(format!("{m}x{k}x{n}")), |bench| {
            bench.iter(|| model.run(Vec::<(String, Tensor)>::new()).expect("run"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
