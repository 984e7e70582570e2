//! Errors of the compiler: passes, lowering, shader validation, pipelines.

use crate::graph::GraphError;
use thiserror::Error;

/// Why the compiler refused a graph for a target.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The IR fails verification (or scheduling finds a cycle) before any pass runs.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// A pass left the IR invalid: a wgraph bug in that pass.
    #[error("pass `{pass}` broke the IR: {source}")]
    PassBrokeIr {
        /// The pass's name (`constant-fold`).
        pass: &'static str,
        /// What the verifier found.
        source: GraphError,
    },
    /// A generated kernel is not valid WGSL: a wgraph bug in its generator.
    #[error("kernel `{kernel}` (node %{node}) failed naga validation:\n{error}\n--- WGSL ---\n{source_code}")]
    Shader {
        /// The kernel's label (`%12:matmul+add+gelu`).
        kernel: String,
        /// The node it writes.
        node: usize,
        /// naga's message, with the offending source span.
        error: String,
        /// The whole kernel.
        source_code: String,
    },
    /// A fused kernel binds more storage buffers than the adapter allows.
    #[error(
        "kernel `{kernel}` (node %{node}) needs {needed} storage buffers but this adapter allows {limit} per shader stage"
    )]
    TooManyBuffers {
        /// The kernel's label.
        kernel: String,
        /// The node it writes.
        node: usize,
        /// Buffers it binds (inputs, output and params).
        needed: u32,
        /// The adapter's `max_storage_buffers_per_stage`.
        limit: u32,
    },
    /// [`CompileOptions::matmul`](super::CompileOptions::matmul) fixes a subgroup
    /// kernel the target's subgroups do not fit.
    #[error(
        "the matmul kernel shares A across subgroups of {lanes} lanes, but this device {}; \
         use `subgroup_a: false` or leave `CompileOptions::matmul` unset",
        match subgroup_size { Some(n) => format!("has subgroups of {n}"), None => "has no fixed-size subgroups".to_string() }
    )]
    SubgroupsUnavailable {
        /// The subgroup width the kernel needs.
        lanes: u32,
        /// The target's subgroup size, if it has one fixed size.
        subgroup_size: Option<u32>,
    },
    /// A node the GPU cannot compute (an f64 value, a dim a kernel needs static).
    #[error("node %{node} ({op}): {detail}")]
    Unsupported {
        /// The node's index.
        node: usize,
        /// Its op's name.
        op: &'static str,
        /// Why, and what to do instead.
        detail: String,
    },
    /// A template and its generator disagree (a wgraph bug).
    #[error("template `{template}`: {detail}")]
    Template {
        /// The template's name (its file under `shaders/`).
        template: &'static str,
        /// The placeholder missing a value, or the value without a placeholder.
        detail: String,
    },
    /// An output named like a weight (written back into it after each run)
    /// has another type than the weight.
    #[error("output `{name}` writes back into the weight of that name, but it is {value} and the weight is {weight}")]
    WriteBackType {
        /// The output's and the weight's name.
        name: String,
        /// The weight's type.
        weight: String,
        /// The output's type.
        value: String,
    },
    /// `WGRAPH_MATMUL` names no matmul kernel family.
    #[error("WGRAPH_MATMUL={value} is not one of register, tiled")]
    UnknownMatmulFamily {
        /// The variable's value.
        value: String,
    },
}

#[cfg(test)]
mod tests {
    use super::CompileError;

    #[test]
    fn a_subgroup_kernel_on_the_wrong_device_says_what_to_change() {
        let none = CompileError::SubgroupsUnavailable { lanes: 8, subgroup_size: None };
        assert_eq!(
            none.to_string(),
            "the matmul kernel shares A across subgroups of 8 lanes, but this device has no fixed-size subgroups; \
             use `subgroup_a: false` or leave `CompileOptions::matmul` unset"
        );
        let other = CompileError::SubgroupsUnavailable { lanes: 8, subgroup_size: Some(32) };
        assert!(other.to_string().contains("but this device has subgroups of 32;"), "{other}");
    }
}
