//! Every matmul kernel configuration (register blocking of several block
//! and workgroup shapes, with and without A shared across subgroups,
//! workgroup tiles) against the interpreter, on every operand layout:
//! row-major, transposed weight, batched with broadcasting, odd sizes, k
//! shorter than a subgroup's run and k with a remainder after it.

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
use wgraph::compile::MatmulKernel;
use wgraph::graph::ops;
use wgraph::{CompileOptions, Compiler, Dim, Graph, Interpreter, Tensor, Weights};

const KERNELS: [MatmulKernel; 7] = [
    MatmulKernel::Register { tm: 8, tn: 16, wx: 8, wy: 8, subgroup_a: false },
    MatmulKernel::Register { tm: 3, tn: 5, wx: 4, wy: 2, subgroup_a: false },
    MatmulKernel::Register { tm: 4, tn: 8, wx: 16, wy: 1, subgroup_a: false },
    wgraph::compile::REGISTER_SUBGROUP,
    MatmulKernel::Register { tm: 5, tn: 8, wx: 8, wy: 3, subgroup_a: true },
    MatmulKernel::Tiled { tile: 16, tm: 2 },
    MatmulKernel::Tiled { tile: 32, tm: 4 },
];

/// (batch, m, k, n, B stored transposed)
const SHAPES: [(usize, usize, usize, usize, bool); 8] = [
    (1, 64, 32, 48, false),
    (1, 40, 44, 24, false),
    (2, 19, 72, 16, true),
    (2, 7, 12, 20, false),
    (3, 5, 16, 36, true),
    (1, 33, 9, 17, false),
    (2, 1, 8, 4, true),
    (1, 70, 64, 24, true),
];

#[test]
fn every_matmul_kernel_agrees_with_the_interpreter() {
    let mut rng = Rng(99);
    for (batch, m, k, n, transposed) in SHAPES {
        let g = Graph::new("mm");
        let a = g.input("a", wgraph::DType::F32, [Dim::new(batch), Dim::new(m), Dim::new(k)]);
        let w_shape = if transposed { [n, k] } else { [k, n] };
        let w = g.input("w", wgraph::DType::F32, w_shape);
        let bias = g.input("bias", wgraph::DType::F32, [n]);
        let y = if transposed { ops::linear(&a, &w, Some(&bias)) } else { &ops::matmul(&a, &w) + &bias };
        g.output_named([("y", ops::gelu(&y, wgraph::Gelu::Tanh))]).unwrap();
        let feed = vec![
            ("a".to_string(), rng.floats(&[batch, m, k], -1.0, 1.0)),
            ("w".to_string(), rng.floats(&w_shape, -1.0, 1.0)),
            ("bias".to_string(), rng.floats(&[n], -1.0, 1.0)),
        ];
        let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
        for kernel in KERNELS {
            let options = CompileOptions { matmul: Some(kernel), ..Default::default() };
            let compiled = Compiler::new(device()).with_options(options).compile(&g, &Weights::new());
            if let MatmulKernel::Register { wx, subgroup_a: true, .. } = kernel {
                if device().subgroup_size() != Some(wx) {
                    // Without subgroups of that size the kernel is refused, by name.
                    let err = compiled.err().map(|e| e.to_string()).unwrap_or_default();
                    assert!(err.contains("subgroups of 8 lanes"), "{err}");
                    continue;
                }
            }
            let model = compiled.unwrap();
            let got: Tensor = model.run(feed.clone()).unwrap().get("y").unwrap().clone();
            let what = format!("{kernel:?} on {batch}x{m}x{k}x{n} (transposed {transposed})");
            assert_close(&got, want.get("y").unwrap(), 1e-4, 1e-5, &what);
        }
    }
}
