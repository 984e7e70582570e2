//! The adapter wgraph picks on this machine and the limits the compiler
//! plans against (binding sizes, storage buffers per stage, workgroup
//! sizes): the first thing to look at when a kernel is refused or split.
//!
//!     cargo run --example device_info
//!     WGRAPH_BACKEND=gl cargo run --example device_info

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let d = wgraph::Device::new()?;
    println!("{}", d.describe());
    println!("max_storage_buffer_binding_size {}", d.limits().max_storage_buffer_binding_size);
    println!("max_storage_buffers_per_shader_stage {}", d.limits().max_storage_buffers_per_shader_stage);
    println!("max_compute_workgroup_size_x {}", d.limits().max_compute_workgroup_size_x);
    println!("max_compute_invocations_per_workgroup {}", d.limits().max_compute_invocations_per_workgroup);
    println!("max_compute_workgroup_storage_size {}", d.limits().max_compute_workgroup_storage_size);
    println!("max_buffer_size {}", d.limits().max_buffer_size);
    Ok(())
}
