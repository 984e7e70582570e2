//! The non-finite finder names the first op producing NaN or Inf and shows
//! its inputs' statistics.

mod common;

use common::gpu::device;
use wgraph::debug::find_non_finite;
use wgraph::graph::ops;
use wgraph::{DType, Dim, Graph, Tensor, Weights};

#[test]
fn the_first_overflowing_op_is_named_with_its_inputs() {
    let g = Graph::new("overflow");
    let x = g.input("x", DType::F32, [Dim::sym("n")]);
    let scaled = (&x * 40.0).named("encoder.scale");
    let line = line!() + 1;
    let e = ops::exp(&scaled);
    let y = ops::log(&(&e - &e)); // -inf or NaN after the overflow
    g.output_named([("y", ops::sum(&y, 0, false))]).unwrap();
    let input = Tensor::new([4], vec![0.5f32, 1.0, 2.5, 3.0]).unwrap();
    let found = find_non_finite(device(), &g, &Weights::new(), vec![("x".into(), input.clone())])
        .unwrap()
        .expect("a non-finite value");
    assert_eq!(found.op, "exp");
    assert!(found.location.contains(&format!("{}:{line}:", file!())), "{}", found.location);
    assert_eq!(found.output.inf, 2, "exp(100) and exp(120) overflow f32");
    let (what, stats) = &found.inputs[0];
    assert_eq!(what, "encoder.scale");
    assert_eq!(stats.max, 120.0);
    let text = found.to_string();
    assert!(text.starts_with("first non-finite value: %"), "{text}");
    assert!(text.contains("input encoder.scale: min 2.0000e1 max 1.2000e2"), "{text}");

    // Finite inputs: nothing to report.
    let small = Tensor::new([2], vec![0.01f32, 0.02]).unwrap();
    let g2 = Graph::new("fine");
    let x2 = g2.input("x", DType::F32, [Dim::sym("n")]);
    g2.output_named([("y", ops::exp(&x2))]).unwrap();
    assert!(find_non_finite(device(), &g2, &Weights::new(), vec![("x".into(), small)]).unwrap().is_none());
}
