//! Convolutions as one matmul (im2col). A direct conv1d kernel loops over
//! input channels and taps per output element and runs far below the
//! matmul kernels' throughput on lavapipe (Whisper's two stem convolutions
//! would take a large share of its encoder); gathered into columns
//! `[n, c_in * k, len_out]` (one cheap copy) the product with the weight
//! viewed as `[c_out, c_in * k]` gets the tuned matmul kernels. Ungrouped
//! convolutions only (what transformer stems use); a strided one needs a
//! static output length (a strided slice does).

use super::error::CompileError;
use super::pass::{replace_nodes, Pass};
use crate::graph::{ops, Dim, Ir, NodeId, Op, Value};

/// The rewrite of ungrouped `conv1d` into gathered columns times the weight.
pub struct ConvAsMatmul;

impl Pass for ConvAsMatmul {
    fn name(&self) -> &'static str {
        "conv-as-matmul"
    }

    fn run(&self, ir: &mut Ir) -> Result<bool, CompileError> {
        let convs: Vec<NodeId> = ir.graph.node_indices().filter(|&id| rewritable(ir, id)).collect();
        replace_nodes(ir, &convs, |graph, id| {
            let (op, operands, out_len) = {
                let ir = graph.ir_unchecked();
                (ir.node(id).op.clone(), ir.operands(id), ir.node(id).ty.shape[2].clone())
            };
            let Op::Conv1d { stride, padding, dilation, .. } = op else { return None };
            let values: Vec<Value> = operands.iter().map(|&o| graph.value(o)).collect::<Option<_>>()?;
            Some(Im2Col { stride, padding, dilation, out_len }.apply(&values[0], &values[1], values.get(2)))
        })
    }
}

/// Whether `id` is a conv1d this pass can rewrite: one group, a static
/// kernel width, and a static output length when strided.
fn rewritable(ir: &Ir, id: NodeId) -> bool {
    let Op::Conv1d { stride, groups: 1, .. } = ir.node(id).op else { return false };
    let operands = ir.operands(id);
    let Some(&w) = operands.get(1) else { return false };
    let width_static = ir.node(w).ty.shape.iter().all(|d| d.as_static().is_some());
    let out_len = &ir.node(id).ty.shape[2];
    width_static && (stride == 1 || out_len.as_static().is_some())
}

/// One convolution's geometry.
struct Im2Col {
    stride: usize,
    padding: usize,
    dilation: usize,
    out_len: Dim,
}

impl Im2Col {
    /// `x` `[n, c_in, len]`, `w` `[c_out, c_in, k]`, `bias` `[c_out]`.
    fn apply(&self, x: &Value, w: &Value, bias: Option<&Value>) -> Value {
        let (xs, ws) = (x.shape(), w.shape());
        let (n, c_in) = (xs[0].clone(), xs[1].clone());
        let (c_out, k) = (ws[0].clone(), ws[2].as_static().unwrap_or(1));
        let padded = if self.padding > 0 {
            let zeros =
                ops::expand(&ops::scalar(x.graph(), 0.0, x.dtype()), [n.clone(), c_in.clone(), self.padding.into()]);
            ops::concat(&[&zeros, x, &zeros], 2)
        } else {
            x.clone()
        };
        // Tap j of output position t reads padded position j * dilation + t * stride.
        let span = &Dim::new(self.stride) * &(&self.out_len - &Dim::new(1));
        let taps: Vec<Value> = (0..k)
            .map(|j| {
                let start = Dim::new(j * self.dilation);
                let end = &(&start + &span) + &Dim::new(1);
                ops::unsqueeze(&ops::slice_step(&padded, 2, start, end, self.stride), 2)
            })
            .collect();
        let taps: Vec<&Value> = taps.iter().collect();
        let columns = ops::reshape(&ops::concat(&taps, 2), [n, &c_in * &Dim::new(k), self.out_len.clone()]);
        let weight = ops::reshape(w, [c_out, &c_in * &Dim::new(k)]);
        let y = ops::matmul(&weight, &columns);
        match bias {
            Some(b) => &y + &ops::unsqueeze(b, -1),
            None => y,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::{DType, Graph, Tensor};
    use crate::ops::Conv1dOptions;
    use crate::Interpreter;

    /// The rewritten graph computes what the conv computed, on the
    /// interpreter, for strides, padding and dilation.
    #[test]
    fn the_rewrite_computes_the_same_convolution() {
        for (stride, padding, dilation) in [(1, 0, 1), (1, 1, 1), (2, 1, 1), (1, 2, 2), (3, 0, 1)] {
            let g = Graph::new("conv");
            let x = g.input("x", DType::F32, [2usize, 3, 11]);
            let w = g.weight("w", DType::F32, [4usize, 3, 3]);
            let b = g.weight("b", DType::F32, [4usize]);
            let opts = Conv1dOptions { stride, padding, dilation, groups: 1 };
            g.output_named([("y", ops::conv1d(&x, &w, Some(&b), opts))]).unwrap();
            let fill = |n: usize, s: f32| (0..n).map(|i| ((i * 37 % 17) as f32 - 8.0) * s).collect::<Vec<f32>>();
            let xs = Tensor::new([2, 3, 11], fill(66, 0.1)).unwrap();
            let weights = crate::Weights::from_tensors([
                ("w", Tensor::new([4, 3, 3], fill(36, 0.05)).unwrap()),
                ("b", Tensor::new([4], fill(4, 0.3)).unwrap()),
            ]);
            let ir = g.ir().unwrap().clone();
            let mut rewritten = ir.clone();
            assert!(ConvAsMatmul.run(&mut rewritten).unwrap());
            assert!(!rewritten.graph.node_indices().any(|n| matches!(rewritten.node(n).op, Op::Conv1d { .. })));
            let run = |ir: &Ir| {
                let g = Graph::from_ir(ir.clone());
                Interpreter::new().run(&g, &weights, [("x", xs.clone())]).unwrap().get("y").unwrap().to_f32_vec()
            };
            let (want, got) = (run(&ir), run(&rewritten));
            assert_eq!(want.len(), got.len());
            for (a, b) in want.iter().zip(&got) {
                assert!((a - b).abs() < 1e-5, "stride {stride} padding {padding} dilation {dilation}: {a} vs {b}");
            }
        }
    }
}
