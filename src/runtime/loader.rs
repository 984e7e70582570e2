//! The one-call path from a graph to a runnable [`Model`]: check the
//! weights, compile for this device's [`Target`](crate::compile::Target),
//! create the pipelines and upload the weights.

use super::device::Device;
use super::error::RuntimeError;
use super::model::Model;
use crate::compile::{compile, timed, CompileError, CompileOptions, KernelTier, Program};
use crate::graph::{dump_dot, Graph, GraphError, Ir};
use crate::weights::{check_ir, WeightError, Weights};
use thiserror::Error;

/// Why a graph could not be made into a model: the layer that refused it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The graph has build errors.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// The weights do not match the graph (the one-report check).
    #[error(transparent)]
    Weights(#[from] WeightError),
    /// The compiler refused the graph for this device.
    #[error(transparent)]
    Compile(#[from] CompileError),
    /// The device refused a pipeline or a buffer.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
}

/// Compiles graphs for one device.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use wgraph::{Loader, DType, Device, Graph, Tensor, Weights};
/// let g = Graph::new("double");
/// let x = g.input("x", DType::F32, [3usize]);
/// g.output_named([("y", &x * 2.0)])?;
/// let device = Device::new()?;
/// let model = Loader::new(&device).load(&g, &Weights::new())?;
/// let out = model.run([("x", Tensor::new([3], vec![1.0f32, 2.0, 3.0])?)])?;
/// assert_eq!(out.get("y").unwrap().to_f32_vec(), [2.0, 4.0, 6.0]);
/// # Ok(()) }
/// ```
pub struct Loader<'d> {
    device: &'d Device,
    options: CompileOptions,
    /// A model whose weight buffers this one reads (see [`Loader::sharing_weights_with`]).
    shared: Option<&'d Model>,
}

impl<'d> Loader<'d> {
    /// A compiler for `device` with default options (settings from the device).
    pub fn new(device: &'d Device) -> Loader<'d> {
        let options = CompileOptions { settings: device.settings().clone(), ..CompileOptions::default() };
        Loader { device, options, shared: None }
    }

    /// Models compiled from here read the weights `model` also has from
    /// `model`'s buffers (same name and size) instead of uploading copies,
    /// so they see its current values: an evaluation model next to a
    /// training one. Such weights are never read as textures.
    pub fn sharing_weights_with(mut self, model: &'d Model) -> Loader<'d> {
        self.shared = Some(model);
        self
    }

    /// Replaces the options (fusion, taps, kernel choice).
    pub fn with_options(mut self, options: CompileOptions) -> Loader<'d> {
        self.options = options;
        self
    }

    /// Checks the weights, optimises, lowers and validates every kernel,
    /// builds the pipelines and uploads the weights. A weight problem stops
    /// it before any GPU work, with the same one report as
    /// [`Graph::check_weights`].
    ///
    /// ```
    /// use wgraph::{ops, Loader, DType, Device, Dim, Graph, LoadError, Tensor, WeightError, Weights};
    /// let g = Graph::new("classifier");
    /// let x = g.input("x", DType::F32, [Dim::sym("batch"), Dim::new(2)]);
    /// let w = g.weight("classifier.weight", DType::F32, [3usize, 2]);
    /// g.output_named([("logits", ops::linear(&x, &w, None))])?;
    /// let device = Device::new()?;
    ///
    /// let misspelt = Weights::from_tensors([("classifier.weights", Tensor::zeros(DType::F32, [3, 2])?)]);
    /// let Err(LoadError::Weights(WeightError::Check(report))) = Loader::new(&device).load(&g, &misspelt)
    /// else { panic!("expected a weight report") };
    /// assert!(report.to_string().contains("closest in the checkpoint: `classifier.weights`"));
    ///
    /// let w = Tensor::new([3, 2], vec![1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0])?;
    /// let model = Loader::new(&device).load(&g, &Weights::from_tensors([("classifier.weight", w)]))?;
    /// let out = model.run([("x", Tensor::new([1, 2], vec![3.0f32, 4.0])?)])?;
    /// assert_eq!(out.get("logits").unwrap().to_f32_vec(), [3.0, 4.0, 7.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(&self, graph: &Graph, weights: &Weights) -> Result<Model, LoadError> {
        pollster::block_on(self.load_async(graph, weights))
    }

    /// Like [`Loader::load`], for an IR (after edits or passes).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_ir(&self, ir: &Ir, weights: &Weights) -> Result<Model, LoadError> {
        pollster::block_on(self.load_ir_async(ir, weights))
    }

    /// Like [`Loader::load`], awaiting the device (what a browser page calls).
    pub async fn load_async(&self, graph: &Graph, weights: &Weights) -> Result<Model, LoadError> {
        let ir = graph.ir()?.clone();
        self.load_ir_async(&ir, weights).await
    }

    /// Like [`Loader::load_ir`], awaiting the device.
    pub async fn load_ir_async(&self, ir: &Ir, weights: &Weights) -> Result<Model, LoadError> {
        let (program, bindings) = self.program_for(ir, weights, self.options.tier)?;
        Ok(Model::sharing_async(self.device, program, weights, bindings, self.shared).await?)
    }

    #[cfg(not(target_arch = "wasm32"))]
    /// Whether models read another model's weight buffers.
    pub(super) fn shares_weights(&self) -> bool {
        self.shared.is_some()
    }

    #[cfg(not(target_arch = "wasm32"))]
    /// The device models are compiled for.
    pub(super) fn device(&self) -> &'d Device {
        self.device
    }

    #[cfg(not(target_arch = "wasm32"))]
    /// The options models are compiled with.
    pub(super) fn options(&self) -> &CompileOptions {
        &self.options
    }

    /// Checks the weights and compiles `ir` with this compiler's options
    /// and `tier`; returns the program and the sizes the weights bind.
    pub(super) fn program_for(
        &self,
        ir: &Ir,
        weights: &Weights,
        tier: KernelTier,
    ) -> Result<(Program, crate::graph::Bindings), LoadError> {
        let settings = &self.options.settings;
        let checked = timed(settings, "check-weights", || check_ir(ir, weights))?;
        let mut options = CompileOptions { tier, ..self.options.clone() };
        // Kernels measured on this device (`wgraph tune`, WGRAPH_TUNE),
        // unless the caller fixed a kernel or gave a table.
        if options.matmul.is_none() && options.tuning.is_none() {
            let table = super::tune::table_for(self.device)?;
            if !table.matmul.is_empty() {
                options.tuning = Some(std::sync::Arc::new(table));
            }
        }
        if let Some(other) = self.shared {
            // A texture is a copy made once: weights read from the other
            // model's buffers may change under it (its write-backs,
            // `write_weights`). Those it holds as textures are shared as
            // they are.
            options.shared_buffers.extend(other.buffered_weight_names());
        }
        // Sources an earlier process validated are not validated again.
        let validated = settings.pipeline_cache.as_deref().map(super::validated::path);
        if let (Some(path), None) = (&validated, &options.validated) {
            options.validated = Some(std::sync::Arc::new(super::validated::load(path)));
        }
        // Weights a GGUF file stores quantized stay so where the kernels
        // read them dequantizing.
        let mut ir = ir.clone();
        crate::compile::keep_quantized(&mut ir, |name| weights.quant(name));
        let program = compile(&ir, &options, &self.device.target())?;
        if let (Some(path), Some(known)) = (&validated, &options.validated) {
            super::validated::record(path, known, &program);
        }
        // WGRAPH_GRAPH=path.dot writes the optimised graph for Graphviz.
        if let Some(path) = &settings.graph_dot {
            let dot = dump_dot(&program.ir);
            if let Err(e) = crate::io::write_atomic(path, dot.as_bytes()) {
                tracing::warn!(path = %path.display(), error = %e, "cannot write WGRAPH_GRAPH");
                eprintln!("wgraph: cannot write WGRAPH_GRAPH={}: {e}", path.display());
            }
        }
        Ok((program, checked.bindings))
    }

    /// Creates `program`'s pipelines and uploads its weights; symbols only
    /// weights bind (a `vocab` dim) are fixed from here on.
    #[cfg(not(target_arch = "wasm32"))]
    pub(super) fn model_for(
        &self,
        program: Program,
        weights: &Weights,
        bindings: crate::graph::Bindings,
    ) -> Result<Model, LoadError> {
        Ok(Model::sharing(self.device, program, weights, bindings, self.shared)?)
    }
}
