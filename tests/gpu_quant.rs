//! Weights kept in ggml's quantized blocks on the device, every block type
//! against the interpreter (which dequantizes on the host exactly as ggml
//! does): Linear products with one row (a decode step), a few, many and a
//! symbolic count, batched, with a fused bias and activation; embedding
//! rows gathered from the blocks; weights read back; and the rule that a
//! weight read any other way stays f32.

mod common;

use common::gguf_write::{random_blocks, write_gguf};
use common::gpu::{device, Rng};
use common::{assert_close, fixture};
use wgraph::graph::{ops, Quant};
use wgraph::weights::gguf::GgmlType;
use wgraph::{CompileOptions, DType, Dim, Gelu, Graph, Interpreter, Loader, Tensor, Weights};

/// Rows of the weight (output columns): past one 64-lane workgroup.
const OUT: usize = 70;

/// Rows of a weight a one-row product reads four at a time (a multiple of
/// four, past one 32-invocation workgroup of four columns each).
const QUAD_OUT: usize = 132;

/// A GGUF file with a `[OUT, k]` weight of type `q` and an f32 bias.
fn weights_for(q: Quant, k: usize, seed: u64) -> (tempfile::TempDir, Weights) {
    weights_with_rows(q, OUT, k, seed)
}

/// [`weights_for`] with `out` rows.
fn weights_with_rows(q: Quant, out: usize, k: usize, seed: u64) -> (tempfile::TempDir, Weights) {
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w.gguf");
    let bias: Vec<u8> = (0..out).flat_map(|_| rng.uniform(-1.0, 1.0).to_le_bytes()).collect();
    write_gguf(
        &path,
        &[
            ("fc.weight".into(), GgmlType::from(q), [out, k], random_blocks(&mut rng, q, out, k)),
            ("fc.bias".into(), GgmlType::F32, [1, out], bias),
        ],
    );
    let weights = Weights::from_dir(&path).unwrap();
    (dir, weights)
}

/// `gelu(x @ Wᵀ + b)` over `[batch.., rows, k]` inputs, and rows of W gathered.
fn graph(k: usize, x_shape: Vec<Dim>) -> Graph {
    graph_with_rows(OUT, k, x_shape)
}

/// [`graph`] over a weight of `out` rows.
fn graph_with_rows(out: usize, k: usize, x_shape: Vec<Dim>) -> Graph {
    let g = Graph::new("quantized");
    let x = g.input("x", DType::F32, x_shape);
    let ids = g.input("ids", DType::I64, [3usize]);
    let w = g.weight("fc.weight", DType::F32, [out, k]);
    let b = g.weight("fc.bias", DType::F32, [1usize, out]);
    let y = ops::gelu(&ops::linear(&x, &w, Some(&b)), Gelu::Tanh);
    g.output_named([("y", y), ("rows", ops::gather(&w, &ids, 0))]).unwrap();
    g
}

fn check(q: Quant, out: usize, k: usize, x_shape: &[usize], symbolic: bool, seed: u64) {
    let (_dir, weights) = weights_with_rows(q, out, k, seed);
    let dims: Vec<Dim> = x_shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if symbolic && i + 2 == x_shape.len() { Dim::sym("rows") } else { Dim::new(d) })
        .collect();
    let g = graph_with_rows(out, k, dims);
    let mut rng = Rng(seed ^ 0x5eed);
    let inputs = vec![("x".to_string(), rng.floats(x_shape, -1.0, 1.0)), ("ids".to_string(), rng.ints(&[3], out))];
    let what = format!("{q} out={out} k={k} x={x_shape:?} symbolic={symbolic}");
    let want = Interpreter::new().run(&g, &weights, inputs.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
    for fuse in [true, false] {
        let options = CompileOptions { fuse, ..Default::default() };
        let model = Loader::new(device()).with_options(options).load(&g, &weights).unwrap();
        assert!(wgraph::compile::has_quantized(&model.program().ir), "{what}: the weight stayed quantized");
        // One row over a multiple of four weight rows: four columns per invocation.
        let quads = out.is_multiple_of(4) && !symbolic && x_shape[..x_shape.len() - 1].iter().product::<usize>() == 1;
        let variants: Vec<String> = model.program().kernels.iter().filter_map(|k| k.variant.clone()).collect();
        assert_eq!(variants.iter().any(|v| v.ends_with("4 columns")), quads, "{what}: {variants:?}");
        let got = model.run(inputs.clone()).unwrap_or_else(|e| panic!("{what}: {e}"));
        for name in ["y", "rows"] {
            let tol = if name == "rows" { 0.0 } else { 2e-5 };
            assert_close(
                got.get(name).unwrap(),
                want.get(name).unwrap(),
                tol,
                tol,
                &format!("{what} fuse={fuse} {name}"),
            );
        }
    }
}

#[test]
fn every_block_type_matches_the_interpreter_in_products_and_lookups() {
    for (i, q) in Quant::ALL.into_iter().enumerate() {
        let k = q.block_elements() * if q.block_elements() == 32 { 3 } else { 2 };
        let seed = 100 + i as u64;
        check(q, OUT, k, &[1, k], false, seed);
        check(q, QUAD_OUT, k, &[1, k], false, seed);
        check(q, QUAD_OUT, k, &[1, 1, k], false, seed);
        check(q, OUT, k, &[19, k], false, seed);
        check(q, OUT, k, &[2, 5, k], true, seed);
    }
}

#[test]
fn a_decode_step_and_a_prefill_share_one_weight_buffer() {
    let (_dir, weights) = weights_for(Quant::Q4_1, 64, 7);
    let decode = Loader::new(device()).load(&graph(64, vec![Dim::new(1), Dim::new(64)]), &weights).unwrap();
    let prefill = Loader::new(device())
        .sharing_weights_with(&decode)
        .load(&graph(64, vec![Dim::sym("rows"), Dim::new(64)]), &weights)
        .unwrap();
    let mut rng = Rng(3);
    let x = rng.floats(&[9, 64], -1.0, 1.0);
    let ids = Tensor::new([3], vec![0i64, 69, 5]).unwrap();
    let inputs = vec![("x".to_string(), x), ("ids".to_string(), ids)];
    let want = Interpreter::new().run(&graph(64, vec![Dim::new(9), Dim::new(64)]), &weights, inputs.clone()).unwrap();
    let got = prefill.run(inputs).unwrap();
    assert_close(got.get("y").unwrap(), want.get("y").unwrap(), 2e-5, 2e-5, "prefill through the shared blocks");
}

#[test]
fn a_quantized_weight_reads_back_as_its_dequantized_values_and_refuses_new_ones() {
    let (_dir, weights) = weights_for(Quant::Q6_K, 256, 11);
    let model = Loader::new(device()).load(&graph(256, vec![Dim::new(2), Dim::new(256)]), &weights).unwrap();
    let read = model.read_weights(&["fc.weight"]).unwrap();
    let want = weights.get("fc.weight", DType::F32).unwrap();
    assert_close(read.get("fc.weight").unwrap(), &want, 0.0, 0.0, "read back");
    let err = model.write_weights(&[("fc.weight".into(), want)]).unwrap_err().to_string();
    assert!(err.contains("Q6_K blocks"), "{err}");
}

#[test]
fn a_weight_read_untransposed_stays_f32() {
    // `x @ W` (W as [k, n]) is not a Linear: the quantized kernel reads
    // only `Wᵀ`, so the weight is dequantized on the host instead.
    let (_dir, weights) = weights_for(Quant::Q8_0, 64, 5);
    let g = Graph::new("untransposed");
    let x = g.input("x", DType::F32, [3usize, OUT]);
    let w = g.weight("fc.weight", DType::F32, [OUT, 64]);
    g.output_named([("y", ops::matmul(&x, &w))]).unwrap();
    let model = Loader::new(device()).load(&g, &weights).unwrap();
    assert!(!wgraph::compile::has_quantized(&model.program().ir));
    let x = Rng(1).floats(&[3, OUT], -1.0, 1.0);
    let want = Interpreter::new().run(&g, &weights, vec![("x", x.clone())]).unwrap();
    let got = model.run(vec![("x", x)]).unwrap();
    assert_close(got.get("y").unwrap(), want.get("y").unwrap(), 1e-5, 1e-5, "untransposed");
}

#[test]
fn the_tiny_llama_q8_0_file_keeps_its_linears_quantized() {
    let weights = Weights::from_dir(fixture("gguf/tiny_llama_q8_0.gguf")).unwrap();
    assert_eq!(weights.quant("model.layers.0.self_attn.q_proj.weight"), Some(Quant::Q8_0));
}

/// One model run at row counts that grow by one (as a decode's cache
/// length does), jump, and shrink: runs share allocations made for larger
/// sizes (params rewritten, texture copies and readbacks cut to the rows
/// there are, few-rows variants chosen per run), and every run still
/// equals the interpreter.
#[test]
fn runs_at_sizes_an_earlier_allocation_holds_match_the_interpreter() {
    let q = Quant::Q4_K;
    let k = q.block_elements();
    let (_dir, weights) = weights_for(q, k, 31);
    let g = graph(k, vec![Dim::sym("rows"), Dim::new(k)]);
    let model = Loader::new(device()).load(&g, &weights).unwrap();
    let mut rng = Rng(32);
    for rows in [1, 2, 3, 4, 5, 6, 17, 2, 9, 1, 33, 3] {
        let inputs =
            vec![("x".to_string(), rng.floats(&[rows, k], -1.0, 1.0)), ("ids".to_string(), rng.ints(&[3], OUT))];
        let want = Interpreter::new().run(&g, &weights, inputs.clone()).unwrap();
        let got = model.run(inputs).unwrap();
        for name in ["y", "rows"] {
            let what = format!("rows={rows} {name}");
            assert_eq!(got.get(name).unwrap().shape(), want.get(name).unwrap().shape(), "{what}");
            assert_close(got.get(name).unwrap(), want.get(name).unwrap(), 2e-5, 2e-5, &what);
        }
    }
}
