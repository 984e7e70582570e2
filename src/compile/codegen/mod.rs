//! WGSL generation: expressions for fused kernels, parameters, templates
//! and one generator per kernel family.

pub mod attention;
mod attention_split;
mod bindings;
pub mod expr;
pub mod kernels;
mod loop_bound;
pub mod matmul;
pub mod norm_texture;
pub mod params;
pub mod quant;
pub mod quant_matmul;
mod register_block;
pub mod scatter;
pub mod shaders;
mod texture;
pub mod wgsl;

pub use bindings::{quantized_weight, word_texture_width};
pub use kernels::{weight_fold, FewRows, Grid, KernelSpec, TextureCopy};
pub use loop_bound::LoopBound;
pub use matmul::MatmulKernel;
