//! Generated kernels, without a GPU: WGSL snapshots of a small graph, and
//! every kernel of that graph and of every op case (tests/common/op_cases.rs)
//! validated by naga and translated to SPIR-V, MSL and HLSL, so the Vulkan,
//! Metal and DX12 paths are checked without their hardware.

mod common;

use common::op_cases::{CASES, MIN_CASES};
use common::{compile_program, program, KernelChoice};
use std::panic::{catch_unwind, AssertUnwindSafe};
use wgraph::compile::validate::validate_wgsl;
use wgraph::compile::{CompileOptions, KernelSpec, Program, REGISTER, REGISTER_SUBGROUP, TILED};
use wgraph::graph::ops::{self, Conv1dOptions, Gelu};
use wgraph::{DType, Dim, Graph};

/// A small encoder layer plus one of each remaining kernel family.
fn sample_graph() -> Graph {
    let g = Graph::new("sample");
    let (b, s) = (Dim::sym("batch"), Dim::sym("seq"));
    let ids = g.input("input_ids", DType::I64, [b.clone(), s.clone()]);
    let mask = g.input("attention_mask", DType::I64, [b.clone(), s.clone()]);
    let emb = g.weight("emb", DType::F32, [50usize, 8]);
    let (w, bias) = (g.weight("dense.weight", DType::F32, [8usize, 8]), g.weight("dense.bias", DType::F32, [8usize]));
    let (gamma, beta) = (g.weight("ln.weight", DType::F32, [8usize]), g.weight("ln.bias", DType::F32, [8usize]));
    let x = ops::gather(&emb, &ids, 0);
    let heads = ops::permute(&ops::reshape(&x, [b.clone(), s.clone(), 2.into(), 4.into()]), &[0, 2, 1, 3]);
    let scores = ops::matmul(&heads, &ops::transpose(&heads, -1, -2)) * 0.5;
    let keep = ops::unsqueeze(&ops::unsqueeze(&ops::ne(&mask, &ops::scalar(&g, 0.0, DType::I64)), 1), 1);
    let p = ops::softmax(&ops::select(&keep, &scores, &ops::scalar(&g, f32::MIN as f64, DType::F32)), -1);
    let ctx = ops::reshape(&ops::permute(&ops::matmul(&p, &heads), &[0, 2, 1, 3]), [b.clone(), s.clone(), 8.into()]);
    let h = ops::gelu(&ops::linear(&ctx, &w, Some(&bias)), Gelu::Erf);
    let y = ops::layer_norm(&(&h + &x), &gamma, &beta, 1e-12);
    // Probabilities returned (HF's `output_attentions`) are not fused
    // into an attention kernel: the masked scores and softmax kernels.
    let heads2 = ops::permute(&ops::reshape(&y, [b.clone(), s.clone(), 2.into(), 4.into()]), &[0, 2, 1, 3]);
    let scores2 = ops::matmul(&heads2, &ops::transpose(&heads2, -1, -2)) * 0.5;
    let attentions = ops::softmax(&ops::select(&keep, &scores2, &ops::scalar(&g, f32::MIN as f64, DType::F32)), -1);
    let pooled = ops::mean(&y, 1, false);
    let best = ops::argmax(&y, -1, false);
    let conv_w = g.weight("conv.weight", DType::F32, [4usize, 8, 3]);
    let conv =
        ops::conv1d(&ops::transpose(&y, 1, 2), &conv_w, None, Conv1dOptions { padding: 1, ..Default::default() });
    let rms = ops::rms_norm(&y, &gamma, 1e-6);
    // The embedding gradient's kernel, with a symbolic index count.
    let emb_grad = ops::scatter_add(&y, &ids, 0, 50usize);
    g.output_named([
        ("last_hidden_state", y),
        ("attentions", attentions),
        ("pooled", pooled),
        ("best", best),
        ("conv", conv),
        ("rms", rms),
        ("emb_grad", emb_grad),
    ])
    .unwrap();
    g
}

fn kernels(g: &Graph, matmul: impl Into<KernelChoice>, fuse: bool) -> Vec<KernelSpec> {
    program(g, fuse, matmul).kernels
}

/// A kernel's snapshot key: its ops and output shape, without node ids
/// (`kernel_matmul_add_gelu_add__batchxseqx8`), so editing an unrelated part
/// of the graph renames nothing. A repeated key gets `__2`, `__3`, ...
fn snapshot_keys(program: &Program) -> Vec<String> {
    let mut bases: Vec<String> = Vec::new();
    let mut keys = Vec::new();
    for k in &program.kernels {
        let ops = k.name.split_once(':').map_or(k.name.as_str(), |(_, ops)| ops).replace('+', "_");
        let shape: Vec<String> = program.ir.node(k.root).ty.shape.iter().map(|d| d.to_string()).collect();
        let shape = if shape.is_empty() { "scalar".to_string() } else { shape.join("x") };
        let base: String = format!("kernel_{ops}__{shape}")
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
            .collect();
        let seen = bases.iter().filter(|b| **b == base).count();
        keys.push(if seen == 0 { base.clone() } else { format!("{base}__{}", seen + 1) });
        bases.push(base);
    }
    keys
}

#[test]
fn generated_wgsl_snapshot() {
    let program = program(&sample_graph(), true, REGISTER);
    let keys = snapshot_keys(&program);
    assert!(keys.len() >= 12, "{} kernels", keys.len());
    insta::assert_snapshot!("kernel_names", keys.join("\n"));
    for (k, key) in program.kernels.iter().zip(&keys) {
        // Skip the shared helper prelude so snapshots show what is generated.
        let body = k.wgsl.split("@group(0)").skip(1).collect::<Vec<_>>().join("@group(0)");
        insta::assert_snapshot!(key.as_str(), format!("@group(0){body}"));
    }
}

/// Translates one kernel to the three native shading languages.
fn translate(k: &KernelSpec) {
    let (module, info) = validate_wgsl(&k.wgsl).unwrap_or_else(|e| panic!("{}: {e}", k.name));
    let entry = (naga::ShaderStage::Compute, "main".to_string());
    let spv = naga::back::spv::write_vec(
        &module,
        &info,
        &naga::back::spv::Options::default(),
        Some(&naga::back::spv::PipelineOptions {
            shader_stage: naga::ShaderStage::Compute,
            entry_point: "main".into(),
        }),
    )
    .unwrap_or_else(|e| panic!("{} to SPIR-V: {e}", k.name));
    assert!(spv.len() > 16 && spv[0] == 0x0723_0203, "{}: SPIR-V magic", k.name);
    let (msl, _) = naga::back::msl::write_string(
        &module,
        &info,
        // Subgroup operations need MSL 2.1 and HLSL shader model 6, which
        // wgpu targets on current systems anyway.
        &naga::back::msl::Options { lang_version: (2, 4), ..Default::default() },
        &naga::back::msl::PipelineOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{} to MSL: {e}", k.name));
    assert!(msl.contains("kernel void"), "{}: MSL has a kernel", k.name);
    let mut hlsl = String::new();
    let options = naga::back::hlsl::Options { shader_model: naga::back::hlsl::ShaderModel::V6_0, ..Default::default() };
    let pipeline = naga::back::hlsl::PipelineOptions { entry_point: Some(entry) };
    naga::back::hlsl::Writer::new(&mut hlsl, &options, &pipeline)
        .write(&module, &info, None)
        .unwrap_or_else(|e| panic!("{} to HLSL: {e}", k.name));
    assert!(hlsl.contains("[numthreads("), "{}: HLSL has a compute entry", k.name);
}

/// Every matmul policy: the three kernels, and the register kernels also
/// with 2-D weights read from textures.
fn policies() -> [KernelChoice; 5] {
    let textured = |kernel| KernelChoice { kernel, texture_weights: true };
    [REGISTER.into(), REGISTER_SUBGROUP.into(), TILED.into(), textured(REGISTER), textured(REGISTER_SUBGROUP)]
}

#[test]
fn every_kernel_translates_to_spirv_msl_and_hlsl() {
    let g = sample_graph();
    let mut count = 0;
    let mut textures = 0;
    for matmul in policies() {
        for fuse in [true, false] {
            for k in kernels(&g, matmul, fuse) {
                translate(&k);
                count += 1;
                textures += k.textures.len();
            }
        }
    }
    assert!(textures >= 4, "{textures} texture bindings translated");
    assert!(count >= 30, "translated {count} kernels");
}

/// Every kernel of every op case (on seed 0's shapes), fused and unfused,
/// under every matmul policy; fails naming each case that did not translate.
#[test]
fn every_op_case_translates_to_spirv_msl_and_hlsl() {
    let mut failed = Vec::new();
    let mut kernel_count = 0;
    for case in CASES {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let instance = case.instance(0).unwrap_or_else(|e| panic!("{}: {e}", case.name));
            let mut n = 0;
            for matmul in policies() {
                for fuse in [true, false] {
                    for k in program(&instance.graph, fuse, matmul).kernels {
                        let what = format!("{} ({}, fuse={fuse}, {matmul:?})", instance.what, k.name);
                        catch_unwind(AssertUnwindSafe(|| translate(&k)))
                            .unwrap_or_else(|_| panic!("{what}: did not translate"));
                        n += 1;
                    }
                }
            }
            n
        }));
        match result {
            Ok(n) => kernel_count += n,
            Err(_) => failed.push(case.name),
        }
    }
    assert!(failed.is_empty(), "{} of {} cases failed: {}", failed.len(), CASES.len(), failed.join(", "));
    assert!(CASES.len() >= MIN_CASES, "{} op cases, expected at least {MIN_CASES}", CASES.len());
    assert!(kernel_count >= 10 * CASES.len(), "translated {kernel_count} kernels for {} cases", CASES.len());
}

#[test]
fn every_template_is_used() {
    // The sample graph and every op case, with both matmul families.
    let mut graphs = vec![sample_graph()];
    graphs.extend(CASES.iter().map(|case| case.instance(0).unwrap_or_else(|e| panic!("{}: {e}", case.name)).graph));
    let mut sources = String::new();
    for g in &graphs {
        for matmul in [REGISTER, TILED] {
            for k in kernels(g, matmul, true) {
                sources.push_str(&k.wgsl);
            }
        }
        // GPU targets: the workgroup-per-row kernels CPU drivers skip for short rows.
        let ir = g.ir().unwrap();
        let gpu =
            wgraph::compile::compile(&ir, &CompileOptions::default(), &wgraph::compile::Target::portable()).unwrap();
        gpu.kernels.iter().for_each(|k| sources.push_str(&k.wgsl));
    }
    // Quantized weights of every block type: a Linear (any rows, and one
    // row: a decode step's four-column kernel) and an embedding lookup.
    for (q, rows) in wgraph::graph::Quant::ALL.into_iter().flat_map(|q| [(q, Dim::sym("rows")), (q, Dim::new(1))]) {
        let k = q.block_elements();
        let g = Graph::new("quantized");
        let x = g.input("x", DType::F32, [rows, Dim::new(k)]);
        let ids = g.input("ids", DType::I64, [Dim::new(2)]);
        let w = g.weight("w", DType::F32, [8usize, k]);
        g.output_named([("y", ops::linear(&x, &w, None)), ("e", ops::gather(&w, &ids, 0))]).unwrap();
        let mut ir = g.ir().unwrap().clone();
        assert_eq!(wgraph::compile::keep_quantized(&mut ir, |_| Some(q)), 1, "{q}");
        // Words from textures on a CPU driver, from buffers on a GPU.
        for target in [wgraph::compile::Target::cpu_driver(), wgraph::compile::Target::portable()] {
            let program = wgraph::compile::compile(&ir, &CompileOptions::default(), &target).unwrap();
            program.kernels.iter().for_each(|k| sources.push_str(&k.wgsl));
        }
    }
    for template in wgraph::compile::codegen::shaders::ALL {
        // A distinctive line of each template must appear in some kernel.
        let line = template.source.lines().find(|l| l.starts_with("// ")).unwrap_or_default();
        assert!(sources.contains(line), "template {} is never used", template.name);
    }
}

#[test]
fn wide_fusions_are_split_to_fit_the_storage_buffer_limit() {
    let g = Graph::new("wide");
    let inputs: Vec<_> = (0..20).map(|i| g.input(format!("x{i}"), DType::F32, [Dim::sym("n")])).collect();
    let mut acc = ops::tanh(&inputs[0]);
    for x in &inputs[1..] {
        acc = ops::tanh(&(&acc + x));
    }
    g.output_named([("y", acc)]).unwrap();
    for max_buffers in [4, 8, 32] {
        let program = compile_program(&g.ir().unwrap(), &CompileOptions::default(), REGISTER, max_buffers).unwrap();
        for k in &program.kernels {
            assert!(
                k.inputs.len() as u32 + 2 <= max_buffers,
                "{} binds {} inputs with a limit of {max_buffers}",
                k.name,
                k.inputs.len()
            );
        }
        if max_buffers == 32 {
            assert_eq!(program.kernels.len(), 1, "everything fuses when the limit allows");
        }
    }
}

#[test]
fn aligned_matmuls_read_operands_as_vec4() {
    let layouts = |a_shape: [usize; 2], transpose_b: bool| {
        let g = Graph::new("mm");
        let x = g.input("x", DType::F32, [Dim::sym("m"), a_shape[1].into()]);
        let w = g.weight("w", DType::F32, [a_shape[0], a_shape[1]]);
        let y = if transpose_b {
            ops::linear(&x, &w, None)
        } else {
            ops::matmul(&x, &ops::transpose(&ops::transpose(&w, 0, 1), 0, 1))
        };
        g.output_named([("y", y)]).unwrap();
        kernels(&g, REGISTER, true).remove(0).wgsl
    };
    // A Linear: both operands contiguous along k.
    assert!(layouts([64, 32], true).contains("in1: array<vec4<f32>>"));
    assert!(layouts([64, 32], true).contains("in0: array<vec4<f32>>"));
    // Odd k: scalar.
    assert!(!layouts([64, 33], true).contains("vec4<f32>>"));
}
