// Batched matmul with register blocking and no workgroup memory: each
// invocation accumulates a TM x TN block in scalar registers. Rows and
// columns are interleaved across the workgroup, so neighbouring
// invocations (the SIMD lanes of a CPU driver) read neighbouring columns of
// B and store neighbouring outputs. The block is unrolled by Rust
// (src/compile/codegen/kernels.rs): no private arrays, which CPU drivers
// would keep in memory. Where strides allow, operands are read as vec4
// (along n for a row-major B, along k for a transposed one): a quarter of
// the loads. Operands are strided views (transposes are read in place); the
// epilogue (bias, activation, residual) is fused. With subgroups, the
// lanes of a row share A's values: each lane loads a different vec4 of k
// and `subgroupBroadcast` hands it to the others, an eighth of A's loads.

{{COMMON}}
{{BINDINGS}}

// The fused epilogue for one element.
fn epilogue(acc: f32{{EPI_ARGS}}) -> f32 {
{{EPI_BODY}}
    return {{EPI_RESULT}};
}

@compute @workgroup_size({{WG}})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32{{LANE_ARG}}) {
    // A one-dimensional workgroup: subgroups are runs of consecutive
    // invocations, so a subgroup of WX lanes is one row of it.
    let lid = vec2<u32>(li % {{WX}}u, li / {{WX}}u);
    let M = {{M}};
    let N = {{N}};
    let K = {{K}};
    let batch = wid.z;
{{BATCH}}
    let row_start = wid.y * {{WY}}u * {{TM}}u + lid.y;
    let col_start = wid.x * {{WX}}u * {{TN}}u + lid.x;
    // Operand offsets of this invocation's rows and columns, clamped so
    // edge blocks read valid memory; their results are not stored.
{{OFFSETS}}
{{ACC_DECL}}
{{LOOP}}
{{STORES}}
}
