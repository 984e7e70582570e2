//! Program listings (`wgraph dump --compiled`): the compiled program in one directory — the
//! graph after passes (text, and DOT with each kernel's nodes as a
//! cluster), the schedule, the memory plan with lifetimes, and every
//! kernel's WGSL.

use crate::compile::fuse::members;
use crate::compile::memory::Placement;
use crate::compile::{Grid, Program};
use crate::graph::{dump_text, Dim, NodeId};
use crate::io::write_atomic;
use crate::weights::WeightError;
use std::collections::HashMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

fn grid_text(g: &Grid) -> String {
    match g {
        Grid::Linear { items, per_group } => format!("ceil(({items}) / {per_group}) workgroups"),
        Grid::Blocks { items, per_group, times } => format!("({times}) x ceil(({items}) / {per_group}) workgroups"),
        Grid::Tiles { x, x_per, y, y_per, z } => format!("ceil(({x}) / {x_per}) x ceil(({y}) / {y_per}) x ({z})"),
    }
}

/// Writes the dump files into `dir` (created if needed); returns their paths.
pub fn write_program_dump(program: &Program, dir: &Path) -> Result<Vec<PathBuf>, WeightError> {
    let kernels_dir = dir.join("kernels");
    std::fs::create_dir_all(&kernels_dir).map_err(|source| WeightError::Write { path: kernels_dir, source })?;
    let ir = &program.ir;
    let mut written = Vec::new();
    let mut put = |name: &str, text: &str| -> Result<(), WeightError> {
        let path = dir.join(name);
        write_atomic(&path, text.as_bytes()).map_err(|source| WeightError::Write { path: path.clone(), source })?;
        written.push(path);
        Ok(())
    };
    put("graph.txt", &dump_text(ir))?;

    // DOT with one cluster per kernel.
    let owner: HashMap<NodeId, usize> = program
        .kernels
        .iter()
        .enumerate()
        .flat_map(|(i, k)| members(ir, k.root, &program.plan).into_iter().map(move |n| (n, i)))
        .collect();
    let mut dot = format!("digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n", ir.name);
    for (i, k) in program.kernels.iter().enumerate() {
        let _ = writeln!(dot, "  subgraph cluster_{i} {{\n    label=\"{}\";\n    style=rounded;", k.name);
        for n in members(ir, k.root, &program.plan) {
            let node = ir.node(n);
            let _ = writeln!(dot, "    n{} [label=\"%{} {}\\n{}\"];", n.index(), n.index(), node.op.name(), node.ty);
        }
        dot.push_str("  }\n");
    }
    for n in ir.graph.node_indices() {
        if !owner.contains_key(&n) {
            let node = ir.node(n);
            let _ = writeln!(
                dot,
                "  n{} [label=\"%{} {}\\n{}\", shape=ellipse];",
                n.index(),
                n.index(),
                node.op.name(),
                node.ty
            );
        }
        for (slot, src) in ir.operands(n).into_iter().enumerate() {
            let _ = writeln!(dot, "  n{} -> n{} [label=\"{slot}\"];", src.index(), n.index());
        }
    }
    dot.push_str("}\n");
    put("graph.dot", &dot)?;

    // Schedule.
    let mut schedule = String::new();
    for (i, k) in program.kernels.iter().enumerate() {
        let fused: Vec<String> = members(ir, k.root, &program.plan).iter().map(|n| format!("%{}", n.index())).collect();
        let reads: Vec<String> = k.inputs.iter().map(|n| format!("%{}", n.index())).collect();
        let params: Vec<String> = k.params.iter().map(Dim::to_string).collect();
        let _ = writeln!(
            schedule,
            "{i:>4}  {}\n      computes {}\n      reads {}\n      grid {}\n      params [{}]",
            k.name,
            fused.join(" "),
            if reads.is_empty() { "-".to_string() } else { reads.join(" ") },
            grid_text(&k.grid),
            params.join(", ")
        );
    }
    put("schedule.txt", &schedule)?;

    // Memory plan: where each value lives, its size, and its lifetime in kernels.
    let mut first_write: HashMap<NodeId, usize> = HashMap::new();
    let mut last_read: HashMap<NodeId, usize> = HashMap::new();
    for (i, k) in program.kernels.iter().enumerate() {
        first_write.entry(k.root).or_insert(i);
        for &n in &k.inputs {
            last_read.insert(n, i);
        }
    }
    let mut placements: Vec<(NodeId, Placement)> = program.memory.placement.iter().map(|(&n, &p)| (n, p)).collect();
    placements.sort_by_key(|(n, _)| *n);
    let mut memory = format!("{} shared slots\n", program.memory.slots.len());
    for (n, p) in placements {
        let node = ir.node(n);
        let bytes = &Dim::product(&node.ty.shape) * &Dim::new(4);
        let life = match (first_write.get(&n), last_read.get(&n)) {
            (Some(w), Some(r)) => format!("kernels {w}..={r}"),
            (Some(w), None) => format!("written by kernel {w}, read back"),
            (None, Some(r)) => format!("read until kernel {r}"),
            (None, None) => "read back".to_string(),
        };
        let name = node.name.clone().map(|s| format!(" \"{s}\"")).unwrap_or_default();
        let _ = writeln!(
            memory,
            "%{:<5} {:<10} {:>24} bytes  {life}{name}",
            n.index(),
            format!("{p:?}"),
            bytes.to_string()
        );
    }
    put("memory.txt", &memory)?;

    for (i, k) in program.kernels.iter().enumerate() {
        let file: String =
            k.name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '+' { c } else { '_' }).collect();
        put(&format!("kernels/{i:03}{file}.wgsl"), &k.wgsl)?;
    }
    Ok(written)
}
