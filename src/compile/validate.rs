//! naga validation of every generated kernel at compile time, so a bad
//! kernel is a typed error naming the node, never a driver crash later.

use super::codegen::KernelSpec;
use super::error::CompileError;

/// Parses and validates WGSL; returns the module for translation to other
/// shading languages.
pub fn validate_wgsl(wgsl: &str) -> Result<(naga::Module, naga::valid::ModuleInfo), String> {
    let module = naga::front::wgsl::parse_str(wgsl).map_err(|e| e.emit_to_string(wgsl))?;
    // Subgroup operations are allowed here; a kernel only uses them when the
    // device has them (see `MatmulKernel::Register::subgroup_a`).
    let mut validator =
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::SUBGROUP);
    validator
        .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
        .subgroup_operations(naga::valid::SubgroupOperationSet::all());
    let info = validator.validate(&module).map_err(|e| e.emit_to_string(wgsl))?;
    Ok((module, info))
}

/// A kernel source's identity for the list of sources already validated
/// (the validator is deterministic: the same text gets the same verdict).
pub fn source_hash(wgsl: &str) -> u64 {
    crate::io::stable_hash(&[wgsl])
}

/// Every kernel source of `program`, few-rows variants included.
pub fn sources(program: &super::Program) -> impl Iterator<Item = &str> {
    program
        .kernels
        .iter()
        .flat_map(|k| std::iter::once(k.wgsl.as_str()).chain(k.few_rows.as_ref().map(|v| v.wgsl.as_str())))
}

/// Validates one kernel's WGSL; a failure names the kernel and carries its source.
pub fn validate_kernel(kernel: &KernelSpec) -> Result<(), CompileError> {
    validate_wgsl(&kernel.wgsl).map(|_| ()).map_err(|error| CompileError::Shader {
        kernel: kernel.name.clone(),
        node: kernel.root.index(),
        error,
        source_code: kernel.wgsl.clone(),
    })
}
