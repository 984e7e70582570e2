fn main() {
    let instance = wgpu::Instance::default();
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default())).unwrap();
    println!("{:?}", adapter.get_info());
    println!("{:?}", adapter.features());
    println!(
        "storage per stage {} binding {} buffer {}",
        adapter.limits().max_storage_buffers_per_shader_stage,
        adapter.limits().max_storage_buffer_binding_size,
        adapter.limits().max_buffer_size
    );
    println!("{}", std::fs::read_to_string("/proc/meminfo").unwrap().lines().nth(2).unwrap());
}
