//! Graph listings: text (one line per node, stable and diff-friendly), DOT for
//! Graphviz and JSON for tools. All list nodes in execution order.

use super::builder::Graph;
use super::ir::{Ir, NodeId};
use serde_json::{json, Value as Json};
use std::fmt::Write;

/// The dump formats `wgraph dump --format` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpFormat {
    /// One line per node, for reading and diffing ([`dump_text`]).
    Text,
    /// Graphviz DOT, for drawing ([`dump_dot`]).
    Dot,
    /// JSON, for tools ([`dump_json`]).
    Json,
}

impl Graph {
    /// The text dump: one line per node with operands, attributes, type,
    /// HF name and the Rust line that built it; then the outputs and any
    /// build errors.
    pub fn dump(&self) -> String {
        let ir = self.ir_unchecked();
        let mut out = dump_text(&ir);
        let errors = self.errors();
        if !errors.is_empty() {
            out.push_str("errors:\n");
            for e in errors {
                let _ = writeln!(out, "  {}", e.to_string().replace('\n', "\n  "));
            }
        }
        out
    }

    /// The dump in `format`; like [`Graph::dump`], it works on a graph with build errors.
    pub fn dump_as(&self, format: DumpFormat) -> String {
        match format {
            DumpFormat::Text => self.dump(),
            DumpFormat::Dot => dump_dot(&self.ir_unchecked()),
            DumpFormat::Json => dump_json(&self.ir_unchecked()),
        }
    }
}

/// Execution order, or index order when the IR is malformed (a dump must
/// still show something to debug).
fn order(ir: &Ir) -> Vec<NodeId> {
    ir.topo_order().unwrap_or_else(|_| ir.graph.node_indices().collect())
}

fn operand_list(ir: &Ir, id: NodeId) -> String {
    ir.operands(id).iter().map(|o| format!("%{}", o.index())).collect::<Vec<_>>().join(", ")
}

/// One line of the text dump, without the location (DOT labels reuse it).
fn describe(ir: &Ir, id: NodeId) -> String {
    let node = ir.node(id);
    let mut s = format!("%{} = {}({})", id.index(), node.op.name(), operand_list(ir, id));
    for (k, v) in node.op.attrs() {
        let _ = write!(s, " {k}={v}");
    }
    let _ = write!(s, " : {}", node.ty);
    s
}

/// One line per node in execution order: id, op, operands, attributes, type,
/// HF names and the Rust line that built it; then the outputs.
pub fn dump_text(ir: &Ir) -> String {
    let lines: Vec<(String, String)> = order(ir)
        .into_iter()
        .map(|id| {
            let node = ir.node(id);
            let mut tail = String::new();
            for name in node.names() {
                let _ = write!(tail, "\"{name}\" ");
            }
            let _ = write!(tail, "@ {}:{}", node.location.file(), node.location.line());
            (describe(ir, id), tail)
        })
        .collect();
    let width = lines.iter().map(|(l, _)| l.len()).max().unwrap_or(0).min(100);
    let mut out = format!("graph {}\n", ir.name);
    for (line, tail) in lines {
        let _ = writeln!(out, "  {line:<width$}  # {tail}");
    }
    out.push_str("outputs:\n");
    for (name, id) in &ir.outputs {
        let _ = writeln!(out, "  {name} = %{}", id.index());
    }
    out
}

fn dot_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// A Graphviz digraph: one box per node (sources as ellipses) with its op,
/// attributes, type and HF name, edges labelled by operand slot.
pub fn dump_dot(ir: &Ir) -> String {
    let mut out = format!(
        "digraph \"{}\" {{\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\"];\n",
        dot_escape(&ir.name)
    );
    for id in order(ir) {
        let node = ir.node(id);
        let mut label = format!("%{} {}", id.index(), node.op.name());
        for (k, v) in node.op.attrs() {
            let _ = write!(label, "\\n{k}={}", dot_escape(&v));
        }
        let _ = write!(label, "\\n{}", node.ty);
        if let Some(name) = &node.name {
            let _ = write!(label, "\\n{}", dot_escape(name));
        }
        let shape = if node.op.is_source() { ", shape=ellipse" } else { "" };
        let _ = writeln!(out, "  n{} [label=\"{label}\"{shape}];", id.index());
        for (slot, src) in ir.operands(id).into_iter().enumerate() {
            let _ = writeln!(out, "  n{} -> n{} [label=\"{slot}\"];", src.index(), id.index());
        }
    }
    for (name, id) in &ir.outputs {
        let _ = writeln!(out, "  \"out:{0}\" [label=\"{0}\", shape=doubleoctagon];", dot_escape(name));
        let _ = writeln!(out, "  n{} -> \"out:{}\";", id.index(), dot_escape(name));
    }
    out.push_str("}\n");
    out
}

/// The graph as pretty JSON (`graph`, `nodes` in execution order with op,
/// operands, attributes, dtype, shape, names and location, `outputs`), for
/// tools that read graphs without linking wgraph.
pub fn dump_json(ir: &Ir) -> String {
    let nodes: Vec<Json> = order(ir)
        .into_iter()
        .map(|id| {
            let node = ir.node(id);
            let attrs: serde_json::Map<String, Json> =
                node.op.attrs().into_iter().map(|(k, v)| (k.to_string(), Json::String(v))).collect();
            json!({
                "id": id.index(),
                "op": node.op.name(),
                "operands": ir.operands(id).iter().map(|o| o.index()).collect::<Vec<_>>(),
                "attrs": attrs,
                "dtype": node.ty.dtype,
                "shape": node.ty.shape,
                "name": node.name,
                "aliases": node.aliases,
                "location": node.location,
            })
        })
        .collect();
    let outputs: Vec<Json> = ir.outputs.iter().map(|(n, id)| json!({"name": n, "node": id.index()})).collect();
    let doc = json!({"graph": ir.name, "nodes": nodes, "outputs": outputs});
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
