//! Reductions with fused prologues: an elementwise expression read only by
//! a sum, mean, max or min is computed inside the reduction's loop, so
//! `sum(g * g)` is one kernel reading `g`, not a kernel writing the squares
//! and another reading them back. Checked for the kernel count and against
//! the interpreter, over every axis and through views.

mod common;

use common::assert_close;
use common::gpu::{device, Rng};
use wgraph::compile::{compile, CompileOptions, Target};
use wgraph::graph::ops;
use wgraph::graph::Ir;
use wgraph::{DType, Dim, Graph, Interpreter, Loader, Tensor, Weights};

/// The kernels `g` compiles to on a CPU driver.
fn kernel_names(g: &Graph) -> Vec<String> {
    kernels_within(&g.ir().unwrap(), Target::cpu_driver().max_storage_buffers_per_stage)
}

/// The kernels `ir` compiles to on a CPU driver binding at most `buffers`
/// storage buffers per kernel.
fn kernels_within(ir: &Ir, buffers: u32) -> Vec<String> {
    let target = Target { max_storage_buffers_per_stage: buffers, ..Target::cpu_driver() };
    let program = compile(ir, &CompileOptions::default(), &target).unwrap();
    program.kernels.iter().map(|k| k.name.clone()).collect()
}

/// Sums of squares, means of centred values, maxima of a product with a
/// broadcast row and a permuted view, over `[rows, 37, 5]`.
fn prologue_graph() -> Graph {
    let g = Graph::new("prologues");
    let x = g.input("x", DType::F32, [Dim::sym("rows"), Dim::new(37), Dim::new(5)]);
    let w = g.input("w", DType::F32, [37usize, 5]);
    let sq = ops::sum(&(&x * &x), 1, false);
    let centred = ops::mean(&(&x - &w), 0, true);
    let scaled = ops::max(&ops::permute(&(&x * &w), &[2, 0, 1]), -1, false);
    let smallest = ops::min(&ops::exp(&ops::neg(&x)), 2, false);
    g.output_named([("sq", sq), ("centred", centred), ("scaled", scaled), ("smallest", smallest)]).unwrap();
    g
}

#[test]
fn an_elementwise_operand_read_only_by_a_reduction_fuses_into_it() {
    let g = prologue_graph();
    let names = kernel_names(&g);
    assert_eq!(names.len(), 4, "one kernel per reduction: {names:?}");
    assert!(names.iter().any(|n| n.ends_with(":mul+sum")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(":sub+mean")), "{names:?}");
    assert!(names.iter().any(|n| n.ends_with(":exp+neg+min") || n.ends_with(":neg+exp+min")), "{names:?}");

    // A value read by the reduction and by something else keeps its buffer.
    let shared = Graph::new("shared");
    let x = shared.input("x", DType::F32, [8usize, 8]);
    let sq = &x * &x;
    shared.output_named([("total", ops::sum(&sq, 0, false)), ("sq_plus_one", &sq + 1.0)]).unwrap();
    let names = kernel_names(&shared);
    assert!(names.iter().any(|n| n.ends_with(":sum") && !n.contains("mul")), "{names:?}");
}

#[test]
fn fused_reductions_agree_with_the_interpreter() {
    let g = prologue_graph();
    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let mut r = Rng(5);
    for rows in [1, 3, 40] {
        let n = rows * 37 * 5;
        let feed = vec![
            (
                "x".to_string(),
                Tensor::new([rows, 37, 5], (0..n).map(|_| r.uniform(-2.0, 2.0)).collect::<Vec<_>>()).unwrap(),
            ),
            (
                "w".to_string(),
                Tensor::new([37, 5], (0..185).map(|_| r.uniform(-1.0, 1.0)).collect::<Vec<_>>()).unwrap(),
            ),
        ];
        let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
        let got = model.run(feed).unwrap();
        for name in ["sq", "centred", "scaled", "smallest"] {
            assert_close(got.get(name).unwrap(), want.get(name).unwrap(), 1e-5, 1e-5, &format!("{name}, rows {rows}"));
        }
    }
}

/// Graph outputs that only feed one elementwise root of their shape are
/// written by that root's kernel: AdamW's new moments and new parameter in
/// one dispatch.
#[test]
fn outputs_feeding_one_elementwise_root_are_written_by_its_kernel() {
    let g = Graph::new("adam_like");
    let (p, grad, m, v) = (
        g.input("p", DType::F32, [Dim::sym("n")]),
        g.input("g", DType::F32, [Dim::sym("n")]),
        g.input("m", DType::F32, [Dim::sym("n")]),
        g.input("v", DType::F32, [Dim::sym("n")]),
    );
    let new_m = &(&m * 0.9) + &(&grad * 0.1);
    let new_v = &(&v * 0.999) + &(&(&grad * &grad) * 0.001);
    let new_p = &p - &(&(&new_m * 0.01) / &(&ops::sqrt(&new_v) + 1e-8));
    // A value read by another kernel too keeps its own kernel.
    let shared = &grad * 3.0;
    let total = ops::sum(&shared, 0, false);
    let other = &p + &shared;
    g.output_named([("p", new_p), ("m", new_m), ("v", new_v), ("shared", shared), ("total", total), ("other", other)])
        .unwrap();
    let names = kernel_names(&g);
    assert_eq!(names.iter().filter(|n| n.contains("(+")).count(), 1, "one kernel writes p, m and v: {names:?}");
    assert_eq!(names.len(), 4, "p+m+v, shared, total, other: {names:?}");

    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let mut r = Rng(9);
    let n = 1000;
    let mut vec = |lo: f32| Tensor::new([n], (0..n).map(|_| r.uniform(lo, 1.0)).collect::<Vec<_>>()).unwrap();
    let feed = vec![
        ("p".to_string(), vec(-1.0)),
        ("g".to_string(), vec(-1.0)),
        ("m".to_string(), vec(-1.0)),
        ("v".to_string(), vec(0.0)),
    ];
    let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
    let got = model.run(feed).unwrap();
    for name in ["p", "m", "v", "shared", "total", "other"] {
        assert_close(got.get(name).unwrap(), want.get(name).unwrap(), 1e-5, 1e-6, name);
    }
}

/// A small value with several readers, all in one elementwise kernel (a
/// clipped gradient `g * coef` in AdamW's moments), is computed in that
/// kernel rather than by a kernel of its own; read by a second kernel too,
/// it keeps its buffer.
#[test]
fn a_value_read_only_inside_one_kernel_is_computed_there() {
    let g = Graph::new("clipped_adam_like");
    let n = || Dim::sym("n");
    let (p, grad, m, v) = (
        g.input("p", DType::F32, [n()]),
        g.input("g", DType::F32, [n()]),
        g.input("m", DType::F32, [n()]),
        g.input("v", DType::F32, [n()]),
    );
    let (coef, other_grad) = (g.input("coef", DType::F32, [0usize; 0]), g.input("h", DType::F32, [n()]));
    let clipped = &grad * &coef;
    let new_m = &(&m * 0.9) + &(&clipped * 0.1);
    let new_v = &(&v * 0.999) + &(&(&clipped * &clipped) * 0.001);
    let new_p = &p - &(&(&new_m * 0.01) / &(&ops::sqrt(&new_v) + 1e-8));
    let shared = &other_grad * &coef;
    let (total, twice) = (ops::sum(&shared, 0, false), &shared * &shared);
    g.output_named([("p", new_p), ("m", new_m), ("v", new_v), ("total", total), ("twice", twice)]).unwrap();
    let ir = g.ir().unwrap();
    let kernels = |buffers: u32| kernels_within(&ir, buffers);
    let names = kernels(16);
    // `twice`, an output nothing reads shaped like p, joins p+m+v's kernel.
    assert_eq!(names.len(), 3, "p+m+v+twice (computing g * coef), h * coef, its sum: {names:?}");
    // Reading g and coef instead of their product, p+m+v would bind 9 buffers.
    let names = kernels(8);
    assert_eq!(names.len(), 5, "g * coef in its own kernel within 8 buffers: {names:?}");

    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let mut r = Rng(11);
    let len = 777;
    let mut vec = |lo: f32| Tensor::new([len], (0..len).map(|_| r.uniform(lo, 1.0)).collect::<Vec<_>>()).unwrap();
    let mut feed = vec![("p", vec(-1.0)), ("g", vec(-1.0)), ("m", vec(-1.0)), ("v", vec(0.0)), ("h", vec(-1.0))];
    feed.push(("coef", Tensor::new([0usize; 0], vec![0.37f32]).unwrap()));
    let feed: Vec<(String, Tensor)> = feed.into_iter().map(|(k, t)| (k.to_string(), t)).collect();
    let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
    let got = model.run(feed).unwrap();
    for name in ["p", "m", "v", "total", "twice"] {
        assert_close(got.get(name).unwrap(), want.get(name).unwrap(), 1e-5, 1e-6, name);
    }
}

/// Heads merged back from a transposed layout (`[b, h, d, s]` read as
/// `[b, s, h * d]`, a backward pass's value gradient) times one weight: read
/// in place it would be one small strided product per sample; copied once
/// to row-major, the batch folds into the rows of one product.
#[test]
fn a_transposed_batch_by_one_weight_is_copied_to_fold() {
    let g = Graph::new("merged_heads");
    let b = Dim::sym("batch");
    let t = g.input("t", DType::F32, [b.clone(), Dim::new(4), Dim::new(16), Dim::new(11)]);
    let w = g.input("w", DType::F32, [64usize, 64]);
    let merged = ops::reshape(&ops::permute(&t, &[0, 3, 1, 2]), [b, Dim::new(11), Dim::new(64)]);
    g.output_named([("y", ops::matmul(&merged, &w))]).unwrap();
    let names = kernel_names(&g);
    assert_eq!(names.len(), 2, "a copy, then one product: {names:?}");
    assert!(names[1].ends_with(":matmul"), "{names:?}");

    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let mut r = Rng(5);
    let mut tensor = |shape: Vec<usize>| {
        let n = shape.iter().product();
        Tensor::new(shape, (0..n).map(|_| r.uniform(-1.0, 1.0)).collect::<Vec<_>>()).unwrap()
    };
    let feed = vec![("t".to_string(), tensor(vec![9, 4, 16, 11])), ("w".to_string(), tensor(vec![64, 64]))];
    let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
    let got = model.run(feed).unwrap();
    assert_close(got.get("y").unwrap(), want.get("y").unwrap(), 1e-4, 1e-5, "y");
}

/// Outputs nothing reads, of one shape, computed by independent kernels
/// (an optimizer's per-parameter updates) run as one kernel while its
/// buffers fit, as several within a smaller budget, and with the values
/// the interpreter gives.
#[test]
fn independent_same_shaped_outputs_share_a_kernel() {
    let g = Graph::new("updates");
    let n = || Dim::sym("n");
    let mut outputs = Vec::new();
    for i in 0..6 {
        let p = g.input(format!("p{i}"), DType::F32, [n()]);
        let grad = g.input(format!("g{i}"), DType::F32, [n()]);
        outputs.push((format!("new_p{i}"), &p - &(&grad * 0.1)));
    }
    // Another shape, and an output that is also read, keep their kernels.
    let w = g.input("w", DType::F32, [Dim::new(3), n()]);
    let read = &w * 2.0;
    outputs.push(("w2".to_string(), read.clone()));
    outputs.push(("w_sum".to_string(), ops::sum(&read, 0, false)));
    g.output_named(outputs).unwrap();
    let ir = g.ir().unwrap();
    let kernels = |buffers: u32| kernels_within(&ir, buffers);
    let names = kernels(32);
    assert_eq!(names.len(), 3, "six updates in one kernel, w * 2, its sum: {names:?}");
    assert!(names.iter().any(|k| k.ends_with("(+5 outputs)")), "{names:?}");
    // 8 buffers: output, params and two inputs per update, one more output each.
    let names = kernels(8);
    assert_eq!(names.len(), 2 + 3, "two updates per kernel within 8 buffers: {names:?}");

    let model = Loader::new(device()).load(&g, &Weights::new()).unwrap();
    let mut r = Rng(5);
    let len = 301;
    let mut feed: Vec<(String, Tensor)> = Vec::new();
    for i in 0..6 {
        for name in [format!("p{i}"), format!("g{i}")] {
            feed.push((name, Tensor::new([len], (0..len).map(|_| r.uniform(-1.0, 1.0)).collect::<Vec<_>>()).unwrap()));
        }
    }
    feed.push((
        "w".to_string(),
        Tensor::new([3, len], (0..3 * len).map(|_| r.uniform(-1.0, 1.0)).collect::<Vec<_>>()).unwrap(),
    ));
    let want = Interpreter::new().run(&g, &Weights::new(), feed.clone()).unwrap();
    let got = model.run(feed).unwrap();
    for (name, _) in want.iter() {
        assert_close(got.get(name).unwrap(), want.get(name).unwrap(), 1e-6, 1e-7, name);
    }
}
