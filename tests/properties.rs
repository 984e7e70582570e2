//! Property tests: dim algebra and interpreter identities on random shapes.

use proptest::prelude::*;
use wgraph::graph::{ops, Bindings};
use wgraph::{DType, Dim, Graph, Interpreter, Tensor, Weights};

fn dim_strategy() -> impl Strategy<Value = Dim> {
    prop_oneof![(0usize..6).prop_map(Dim::new), prop::sample::select(vec!["a", "b", "c"]).prop_map(Dim::sym),]
}

fn run1(g: &Graph, x: Tensor) -> Tensor {
    let out = Interpreter::new().run(g, &Weights::new(), [("x", x)]).unwrap();
    out.get("y").unwrap().clone()
}

fn tensor(shape: &[usize], seed: u64) -> Tensor {
    let n: usize = shape.iter().product();
    let v = (0..n).map(|i| ((i as u64 * 2654435761 + seed) % 1000) as f32 / 100.0 - 5.0).collect();
    Tensor::new(shape.to_vec(), v).unwrap()
}

proptest! {
    #[test]
    fn dims_form_a_commutative_ring(a in dim_strategy(), b in dim_strategy(), c in dim_strategy(), va in 0usize..9, vb in 0usize..9, vc in 0usize..9) {
        prop_assert_eq!(&(&a + &b) * &c, &(&a * &c) + &(&b * &c));
        prop_assert_eq!(&a * &b, &b * &a);
        let mut env = Bindings::new();
        env.insert("a".into(), va);
        env.insert("b".into(), vb);
        env.insert("c".into(), vc);
        let (ea, eb) = (a.eval(&env).unwrap(), b.eval(&env).unwrap());
        prop_assert_eq!((&a * &b).eval(&env), Some(ea * eb));
        prop_assert_eq!((&a + &b).eval(&env), Some(ea + eb));
    }

    #[test]
    fn permute_then_inverse_is_identity(shape in prop::collection::vec(1usize..4, 1..5), seed in 0u64..100) {
        let rank = shape.len();
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.rotate_left(seed as usize % rank);
        let mut inverse = vec![0; rank];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        let g = Graph::new("perm");
        let x = g.input("x", DType::F32, shape.iter().map(|&d| Dim::new(d)));
        g.output_named([("y", ops::permute(&ops::permute(&x, &perm), &inverse))]).unwrap();
        let t = tensor(&shape, seed);
        prop_assert_eq!(run1(&g, t.clone()), t);
    }

    #[test]
    fn split_then_concat_is_identity(rows in 1usize..4, a in 0usize..4, b in 1usize..4, seed in 0u64..100) {
        let g = Graph::new("split");
        let x = g.input("x", DType::F32, [rows, a + b]);
        let parts = ops::split(&x, 1, &[a, b]);
        g.output_named([("y", ops::concat(&[&parts[0], &parts[1]], 1))]).unwrap();
        let t = tensor(&[rows, a + b], seed);
        prop_assert_eq!(run1(&g, t.clone()), t);
    }

    #[test]
    fn softmax_rows_sum_to_one(rows in 1usize..5, cols in 1usize..9, seed in 0u64..100) {
        let g = Graph::new("softmax");
        let x = g.input("x", DType::F32, [rows, cols]);
        g.output_named([("y", ops::sum(&ops::softmax(&x, -1), -1, false))]).unwrap();
        for s in run1(&g, tensor(&[rows, cols], seed)).to_f32_vec() {
            prop_assert!((s - 1.0).abs() < 1e-6, "{}", s);
        }
    }

    #[test]
    fn broadcast_add_commutes(r in 1usize..4, c in 1usize..4, seed in 0u64..100) {
        let g = Graph::new("add");
        let x = g.input("x", DType::F32, [r, c]);
        let col = ops::constant(&g, tensor(&[r, 1], seed + 1));
        g.output_named([("y", &(&x + &col) - &(&col + &x))]).unwrap();
        prop_assert!(run1(&g, tensor(&[r, c], seed)).to_f32_vec().iter().all(|&v| v == 0.0));
    }
}
