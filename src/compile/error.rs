//! Errors of the compiler: passes, lowering, shader validation, pipelines.

use crate::graph::GraphError;
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum CompileError {
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("pass `{pass}` broke the IR: {source}")]
    PassBrokeIr { pass: &'static str, source: GraphError },
    #[error("kernel `{kernel}` (node %{node}) failed naga validation:\n{error}\n--- WGSL ---\n{source_code}")]
    Shader { kernel: String, node: usize, error: String, source_code: String },
    #[error(
        "kernel `{kernel}` (node %{node}) needs {needed} storage buffers but this adapter allows {limit} per shader stage"
    )]
    TooManyBuffers { kernel: String, node: usize, needed: u32, limit: u32 },
    #[error(
        "the matmul kernel shares A across subgroups of {lanes} lanes, but this device {}; \
         use `subgroup_a: false` or leave `CompileOptions::matmul` unset",
        match subgroup_size { Some(n) => format!("has subgroups of {n}"), None => "has no fixed-size subgroups".to_string() }
    )]
    SubgroupsUnavailable { lanes: u32, subgroup_size: Option<u32> },
    #[error("node %{node} ({op}): {detail}")]
    Unsupported { node: usize, op: &'static str, detail: String },
    /// A template and its generator disagree (a wgraph bug).
    #[error("template `{template}`: {detail}")]
    Template { template: &'static str, detail: String },
    #[error("output `{name}` writes back into the weight of that name, but it is {value} and the weight is {weight}")]
    WriteBackType { name: String, weight: String, value: String },
    #[error("WGRAPH_MATMUL={value} is not one of register, tiled")]
    UnknownMatmulFamily { value: String },
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
