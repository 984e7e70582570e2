//! wgraph: a GPU compute-graph compiler for wgpu.
//!
//! Build a model as a typed [`Graph`] with [`ops`], check its weights against
//! a safetensors [`Weights`] registry before any GPU work, run it on the CPU
//! reference [`Interpreter`], and compile it for a [`Device`] into a
//! [`Model`] whose [`Model::run`] takes new input sizes on every call.
//!
//! ```
//! use wgraph::{ops, Loader, DType, Device, Dim, Gelu, Graph, Interpreter, Tensor, Weights};
//!
//! // Inputs are named as HF forward arguments, weights by checkpoint key;
//! // `batch` and `seq` are bound when inputs arrive.
//! let g = Graph::new("tiny_encoder");
//! let ids = g.input("input_ids", DType::I64, [Dim::sym("batch"), Dim::sym("seq")]);
//! let table = g.weight("embeddings.word_embeddings.weight", DType::F32, [5usize, 4]);
//! let (w, b) = (g.weight("dense.weight", DType::F32, [4usize, 4]), g.weight("dense.bias", DType::F32, [4usize]));
//! let x = ops::gather(&table, &ids, 0).named("embeddings");
//! let h = ops::gelu(&ops::linear(&x, &w, Some(&b)), Gelu::Erf);
//! g.output_named([("last_hidden_state", h)])?;
//!
//! // In-memory weights here; `Weights::from_dir` memory-maps an HF checkpoint.
//! let table: Vec<f64> = (0..20).map(|i| i as f64 / 10.0 - 1.0).collect();
//! let twice: Vec<f64> = (0..16).map(|i| if i % 5 == 0 { 2.0 } else { 0.0 }).collect(); // 2 * identity
//! let weights = Weights::from_tensors([
//!     ("embeddings.word_embeddings.weight", Tensor::from_f64(DType::F32, [5, 4], &table)?),
//!     ("dense.weight", Tensor::from_f64(DType::F32, [4, 4], &twice)?),
//!     ("dense.bias", Tensor::new([4], vec![0.5f32; 4])?),
//! ]);
//! let checked = g.check_weights(&weights)?; // names, shapes, dtypes: every problem in one report
//! assert!(!checked.has_warnings()); // and no stored tensor left unused
//!
//! let ids = Tensor::new([1, 3], vec![1i64, 4, 2])?;
//! let cpu = Interpreter::new().run(&g, &weights, [("input_ids", ids.clone())])?;
//!
//! let device = Device::new()?; // WGRAPH_BACKEND=vulkan|metal|dx12|gl overrides the choice
//! let model = Loader::new(&device).load(&g, &weights)?; // checked, fused, validated by naga
//! let gpu = model.run([("input_ids", ids)])?;
//!
//! let (cpu, gpu) = (&cpu.get("last_hidden_state").unwrap(), &gpu.get("last_hidden_state").unwrap());
//! assert_eq!(gpu.shape(), [1, 3, 4]);
//! let worst = cpu.to_f32_vec().iter().zip(gpu.to_f32_vec()).map(|(c, g)| (c - g).abs()).fold(0.0, f32::max);
//! assert!(worst < 1e-4, "GPU and interpreter differ by {worst}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Ops return a [`Value`], not a `Result`: an op whose operands do not fit
//! records a [`GraphError`] naming the Rust line that built it and returns a
//! poisoned value, and the graph reports every recorded error once it is
//! used ([`Graph::output`], the interpreter, the compiler). Call
//! [`Value::checked`] to stop at the first one instead.
//!
//! # Layers
//!
//! Each module depends only on those listed before it (`tests/layering.rs`
//! enforces it). Each layer that can fail has one error enum ([`GraphError`],
//! [`WeightError`], [`InterpError`], [`AutodiffError`], [`OptimError`],
//! [`CompileError`], [`RuntimeError`], [`debug::CheckError`],
//! [`train::TrainError`]); [`LoadError`] says which one refused a model.
//!
//! - [`settings`] and [`io`]: the `WGRAPH_*` environment, read once; atomic
//!   file writes.
//! - [`graph`]: the IR, free of wgpu: [`DType`], symbolic [`Dim`]s, the
//!   closed [`graph::Op`] enum and its one inference function, the [`Graph`]
//!   builder and [`ops`], host [`Tensor`]s, dumps, input binding.
//! - [`weights`]: the safetensors registry (mmap, shards, dtype conversion),
//!   the build-time check and its [`weights::WeightReport`], the writer.
//! - [`interp`]: the CPU reference [`Interpreter`] (f64 accumulation, exact
//!   integers), the oracle every GPU kernel is tested against.
//! - [`autodiff`]: reverse mode as an IR-to-IR step; [`autodiff::backward`]
//!   appends the gradients to the loss's graph; HF's losses.
//! - [`optim`]: SGD, Adam and AdamW, global-norm clipping and learning-rate
//!   schedules, as IR equal to `torch.optim` ([`Recipe`]).
//! - [`compile`]: the device-free compiler (passes, fusion, memory plan, WGSL
//!   kernels validated by naga); [`compile::compile`] turns an IR and a
//!   [`Target`] into a [`Program`] of plain data.
//! - [`runtime`]: wgpu: [`Device`] selection, the [`Loader`] (weights
//!   checked, the graph compiled, pipelines created, weights uploaded: one
//!   call), and [`Model`], which owns the buffers and runs; [`TieredModel`]
//!   for quick-then-tuned kernels.
//! - [`debug`]: captured intermediates compared against PyTorch, the
//!   op-by-op GPU/interpreter check, the NaN/Inf finder, compiled-program
//!   listings, graph diffs.
//! - [`train`]: the GPU [`train::Trainer`] (one program per step) and the
//!   training doctor.

#![warn(missing_docs)]
#![warn(rustdoc::broken_intra_doc_links)]
// wgpu's browser types are neither Send nor Sync; the runtime shares them
// through Arc because on native they cross threads (tiers, serving).
#![cfg_attr(target_arch = "wasm32", allow(clippy::arc_with_non_send_sync))]

pub mod autodiff;
pub mod compile;
pub mod debug;
pub mod graph;
pub mod interp;
pub mod io;
pub mod optim;
pub mod runtime;
pub mod settings;
#[cfg(not(target_arch = "wasm32"))]
pub mod train;
pub mod weights;

pub use autodiff::{AutodiffError, Gradients};
pub use compile::{CompileError, CompileOptions, KernelTier, Program, Target};
pub use graph::{ops, BindError, DType, Dim, Gelu, Graph, GraphError, NamedTensors, Tensor, TensorType, Value};
pub use interp::{InterpError, Interpreter, Trace};
pub use optim::{OptimError, OptimizerConfig, Recipe};
pub use runtime::{Device, LoadError, Loader, Model, RuntimeError};
#[cfg(not(target_arch = "wasm32"))]
pub use runtime::{TieredModel, Tuner};
pub use settings::Settings;
pub use weights::{CheckedWeights, WeightError, Weights};

/// The README's Rust snippets, compiled with the doctests so they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeSnippets;
