//! LayerNorm and RMSNorm with weights for gamma and beta: on CPU drivers
//! one row per invocation, the row copied into a texture (`fold` rows to a
//! texture row) and gamma and beta read as textures; the workgroup-per-row
//! kernel otherwise. Row counts under, at and past one texture row, bound
//! per run on one model; equal to the interpreter either way.

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
use wgraph::graph::ops;
use wgraph::{CompileOptions, DType, Dim, Graph, Interpreter, Loader, Weights};

#[test]
fn norms_reading_textures_agree_with_the_interpreter() {
    let mut rng = Rng(5);
    let n = 8;
    let g = Graph::new("norms");
    let x = g.input("x", DType::F32, [Dim::sym("batch"), Dim::sym("seq"), Dim::new(n)]);
    let (gamma, beta) = (g.weight("gamma", DType::F32, [n]), g.weight("beta", DType::F32, [n]));
    // The residual add keeps x's own buffer an input of both norms.
    let h = &x + &x;
    let ln = ops::layer_norm(&h, &gamma, &beta, 1e-5);
    let rms = ops::rms_norm(&h, &gamma, 1e-6);
    g.output_named([("ln", ln), ("rms", rms)]).unwrap();
    let weights = Weights::from_tensors([("gamma", rng.floats(&[n], 0.5, 1.5)), ("beta", rng.floats(&[n], -0.5, 0.5))]);
    let model = Loader::new(device()).load(&g, &weights).unwrap();
    let norms = model.program().kernels.iter().filter(|k| k.name.ends_with("norm"));
    let textured: Vec<_> = norms.filter(|k| !k.texture_copies.is_empty()).collect();
    assert_eq!(textured.len(), 2, "both norms read their rows from textures on lavapipe");
    let fold = textured[0].texture_copies[0].fold as usize;
    let options = CompileOptions { texture_weights: false, ..Default::default() };
    let plain = Loader::new(device()).with_options(options).load(&g, &weights).unwrap();
    assert!(plain.program().kernels.iter().all(|k| k.textures.is_empty()));
    for (batch, seq) in [(1, 1), (3, 7), (1, fold), (2, fold / 2 + 3)] {
        // Rows of equal values too: the variance is zero, the output beta.
        let mut xs = rng.floats(&[batch, seq, n], -3.0, 3.0).to_f32_vec();
        xs[..n].fill(0.25);
        let feed = vec![("x".to_string(), wgraph::Tensor::new([batch, seq, n], xs).unwrap())];
        let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();
        let got = model.run(feed.clone()).unwrap();
        let from_buffers = plain.run(feed).unwrap();
        for out in ["ln", "rms"] {
            let what = format!("{out} over {batch}x{seq} rows (fold {fold})");
            assert_close(got.get(out).unwrap(), want.get(out).unwrap(), 1e-5, 1e-5, &what);
            assert_close(from_buffers.get(out).unwrap(), want.get(out).unwrap(), 1e-5, 1e-5, &what);
        }
    }
}
