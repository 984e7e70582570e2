//! Kernel sources naga validated are listed in wgraph's cache directory and
//! not validated again by later compiles on the machine: the list holds
//! every source of a loaded program, a second load leaves it as it is and
//! computes the same numbers, and junk in the file is ignored.

mod common;

use common::assert_close;
use common::gpu::Rng;
use wgraph::compile::validate::{source_hash, sources};
use wgraph::graph::ops;
use wgraph::{DType, Device, Dim, Graph, Interpreter, Loader, Settings, Weights};

#[test]
fn validated_sources_are_listed_once_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let settings =
        Settings { pipeline_cache: Some(dir.path().to_path_buf()), tune: Some("off".into()), ..Settings::default() };
    let dev = Device::with_settings(settings).expect("GPU tests need an adapter");
    let mut rng = Rng(5);
    let g = Graph::new("mlp");
    let x = g.input("x", DType::F32, [Dim::sym("n"), Dim::new(24)]);
    let w = g.weight("w", DType::F32, [24usize, 24]);
    g.output_named([("y", ops::softmax(&ops::gelu(&ops::linear(&x, &w, None), wgraph::Gelu::Erf), -1))]).unwrap();
    let weights = Weights::from_tensors([("w", rng.floats(&[24, 24], -1.0, 1.0))]);
    let feed = vec![("x".to_string(), rng.floats(&[5, 24], -1.0, 1.0))];
    let want = Interpreter::new().run(&g, &weights, feed.clone()).unwrap();

    let first = Loader::new(&dev).load(&g, &weights).unwrap();
    let list = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("validated-kernels-")))
        .expect("the list of validated sources");
    let listed = |text: &str| -> Vec<u64> { text.lines().filter_map(|l| u64::from_str_radix(l, 16).ok()).collect() };
    let text = std::fs::read_to_string(&list).unwrap();
    for source in sources(first.program()) {
        assert!(listed(&text).contains(&source_hash(source)), "a source is missing from {}", list.display());
    }

    // The second load validates nothing new and writes nothing.
    let before = std::fs::metadata(&list).unwrap().modified().unwrap();
    let second = Loader::new(&dev).load(&g, &weights).unwrap();
    assert_eq!(std::fs::metadata(&list).unwrap().modified().unwrap(), before);
    for model in [&first, &second] {
        assert_close(model.run(feed.clone()).unwrap().get("y").unwrap(), want.get("y").unwrap(), 1e-5, 1e-5, "y");
    }

    // Junk is ignored: the sources are validated and listed again.
    std::fs::write(&list, "not a hash\n\u{0}\n").unwrap();
    let third = Loader::new(&dev).load(&g, &weights).unwrap();
    let text = std::fs::read_to_string(&list).unwrap();
    assert_eq!(
        listed(&text).len(),
        sources(third.program()).map(source_hash).collect::<std::collections::HashSet<_>>().len()
    );
}
