//! Structural differences between two graph dumps (`wgraph dump --format
//! json`, `examples/reversal.rs --dump-graph`): "the working implementation
//! against the failing one". Every node gets a structural key from its op,
//! attributes, type and its operands' keys (names play no part), so equal
//! computations match however they are numbered or named. The differences
//! reported are the first ones: nodes without a match whose operands all
//! match, paired with their counterpart where one exists (same operands,
//! or same name) to say what changed: a missing or extra op, an attribute
//! (axis, eps, mask, permutation), or an operand.

use serde_json::Value as Json;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{Hash, Hasher};

/// One node of a dump.
#[derive(Debug, Clone, PartialEq)]
pub struct DumpNode {
    /// Its index in the dump.
    pub id: u64,
    /// The op's name.
    pub op: String,
    /// Attributes as the dump prints them.
    pub attrs: Vec<(String, String)>,
    /// `f32[batch, 11, 64]`-style type.
    pub ty: String,
    /// Operand ids.
    pub operands: Vec<u64>,
    /// Module path and aliases.
    pub names: Vec<String>,
    /// The Rust line that built it.
    pub location: String,
}

impl DumpNode {
    /// `` `name` (op attrs, built at line)`` for messages.
    fn describe(&self) -> String {
        let attrs: Vec<String> = self.attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let op = if attrs.is_empty() { self.op.clone() } else { format!("{} {}", self.op, attrs.join(" ")) };
        let name = self.names.first().map(|n| format!("`{n}` = ")).unwrap_or_default();
        format!("{name}{op} -> {} (built at {})", self.ty, self.location)
    }
}

/// A parsed dump.
#[derive(Debug, Clone)]
pub struct GraphDump {
    /// The graph's name.
    pub name: String,
    /// Nodes in execution order.
    pub nodes: Vec<DumpNode>,
}

impl GraphDump {
    /// Parses the JSON written by `wgraph::graph::dump_json`.
    pub fn parse(text: &str) -> Result<GraphDump, String> {
        let doc: Json = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let nodes = doc.get("nodes").and_then(Json::as_array).ok_or("no `nodes` array: not a wgraph graph dump")?;
        let mut out = Vec::with_capacity(nodes.len());
        for n in nodes {
            let id = n.get("id").and_then(Json::as_u64).ok_or("a node without an `id`")?;
            let op = n.get("op").and_then(Json::as_str).ok_or("a node without an `op`")?.to_string();
            let attrs = n
                .get("attrs")
                .and_then(Json::as_object)
                .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
                .unwrap_or_default();
            let shape: Vec<String> = n
                .get("shape")
                .and_then(Json::as_array)
                .map(|a| a.iter().map(|d| d.as_str().map(str::to_string).unwrap_or_else(|| d.to_string())).collect())
                .unwrap_or_default();
            let dtype = n.get("dtype").and_then(Json::as_str).unwrap_or("?");
            let operands = n
                .get("operands")
                .and_then(Json::as_array)
                .map(|a| a.iter().filter_map(Json::as_u64).collect())
                .unwrap_or_default();
            let mut names: Vec<String> =
                n.get("name").and_then(Json::as_str).map(|s| vec![s.to_string()]).unwrap_or_default();
            if let Some(aliases) = n.get("aliases").and_then(Json::as_array) {
                names.extend(aliases.iter().filter_map(Json::as_str).map(str::to_string));
            }
            let location = n
                .get("location")
                .map(|l| l.as_str().map(str::to_string).unwrap_or_else(|| l.to_string()))
                .unwrap_or_default();
            out.push(DumpNode {
                id,
                op,
                attrs,
                ty: format!("{dtype}[{}]", shape.join(", ")),
                operands,
                names,
                location,
            });
        }
        let name = doc.get("graph").and_then(Json::as_str).unwrap_or_default().to_string();
        Ok(GraphDump { name, nodes: out })
    }

    /// Each node's structural key, in node order (operands come first in a dump).
    fn keys(&self) -> HashMap<u64, u64> {
        let mut keys: HashMap<u64, u64> = HashMap::new();
        for n in &self.nodes {
            let mut h = DefaultHasher::new();
            (&n.op, &n.attrs, &n.ty).hash(&mut h);
            for o in &n.operands {
                keys.get(o).copied().unwrap_or(u64::MAX).hash(&mut h);
            }
            keys.insert(n.id, h.finish());
        }
        keys
    }
}

/// One structural difference.
#[derive(Debug, Clone, PartialEq)]
pub enum Difference {
    /// The same place in both graphs computes something else.
    Changed {
        /// The node in the first graph.
        a: DumpNode,
        /// Its counterpart in the second.
        b: DumpNode,
    },
    /// A computation only the first graph has.
    OnlyInA(DumpNode),
    /// A computation only the second graph has.
    OnlyInB(DumpNode),
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Difference::Changed { a, b } => write!(f, "changed: A {}\n         B {}", a.describe(), b.describe()),
            Difference::OnlyInA(n) => write!(f, "only in A: {}", n.describe()),
            Difference::OnlyInB(n) => write!(f, "only in B: {}", n.describe()),
        }
    }
}

/// The first structural differences between `a` and `b` (empty: the same
/// computation).
pub fn diff_graphs(a: &GraphDump, b: &GraphDump) -> Vec<Difference> {
    let (ka, kb) = (a.keys(), b.keys());
    let (in_a, in_b): (HashSet<u64>, HashSet<u64>) = (ka.values().copied().collect(), kb.values().copied().collect());
    // Unmatched nodes whose operands all have a match: where the graphs part.
    let frontier = |g: &GraphDump, own: &HashMap<u64, u64>, other: &HashSet<u64>| -> Vec<DumpNode> {
        g.nodes
            .iter()
            .filter(|n| !other.contains(&own[&n.id]))
            .filter(|n| n.operands.iter().all(|o| own.get(o).is_some_and(|k| other.contains(k))))
            .cloned()
            .collect()
    };
    let (fa, mut fb) = (frontier(a, &ka, &in_b), frontier(b, &kb, &in_a));
    let operand_keys = |n: &DumpNode, keys: &HashMap<u64, u64>| -> Vec<u64> {
        n.operands.iter().map(|o| keys.get(o).copied().unwrap_or_default()).collect()
    };
    let mut out = Vec::new();
    for na in fa {
        let ops_a = operand_keys(&na, &ka);
        let twin = fb
            .iter()
            .position(|nb| !ops_a.is_empty() && operand_keys(nb, &kb) == ops_a)
            .or_else(|| fb.iter().position(|nb| nb.names.iter().any(|n| na.names.contains(n))));
        match twin {
            Some(i) => out.push(Difference::Changed { a: na, b: fb.remove(i) }),
            None => out.push(Difference::OnlyInA(na)),
        }
    }
    out.extend(fb.into_iter().map(Difference::OnlyInB));
    out
}
