//! The layers of `src/` depend on each other in one direction only
//! (shared/DESIGN.md): graph → weights → interp → autodiff → optim → compile →
//! runtime → debug → train. This test reads every source file, collects the
//! modules each one names through `crate::` and `super::` paths, and fails on
//! any cycle, both between top-level modules and between the files of one
//! module, in the core and in the two crates above it: the models
//! (`graphs/`, `wgraph-models`) and the tool (`graphs/cli/`, `wgraph-cli`).
//! The crates depend downwards only (core ← models ← tool), the models
//! without the tool's command-line, progress, signal and plotting crates,
//! and no tool command reaches into another.

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// Source text without comments (doc links would count as uses otherwise).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// The identifiers that follow `prefix` in `code`: `prefix name` and each
/// first segment of a `prefix{a, b::c}` list.
fn names_after(code: &str, prefix: &str) -> BTreeSet<String> {
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut out = BTreeSet::new();
    for (at, _) in code.match_indices(prefix) {
        let rest = &code[at + prefix.len()..];
        if let Some(list) = rest.strip_prefix('{') {
            let end = list.find('}').unwrap_or(list.len());
            for item in list[..end].split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

/// Strongly connected components with more than one member (the cycles).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    let mut graph = DiGraph::<String, ()>::new();
    let mut index = BTreeMap::new();
    for name in edges.keys().chain(edges.values().flatten()) {
        index.entry(name.clone()).or_insert_with(|| graph.add_node(name.clone()));
    }
    for (from, tos) in edges {
        for to in tos {
            if from != to {
                graph.add_edge(index[from], index[to], ());
            }
        }
    }
    tarjan_scc(&graph)
        .into_iter()
        .filter(|scc| scc.len() > 1)
        .map(|scc| {
            let mut names: Vec<String> = scc.iter().map(|&n| graph[n].clone()).collect();
            names.sort();
            names
        })
        .collect()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn src() -> PathBuf {
    repo().join("src")
}

/// The sources of each crate: the core, the models, the tool.
fn crate_sources() -> [(&'static str, PathBuf); 3] {
    [("wgraph", src()), ("wgraph-models", repo().join("graphs/src")), ("wgraph-cli", repo().join("graphs/cli/src"))]
}

/// Top-level modules: `src/graph/…` is `graph`, `src/io.rs` is `io`.
fn top_module(path: &Path) -> Option<String> {
    top_module_in(&src(), path)
}

fn top_module_in(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let first = rel.components().next()?.as_os_str().to_string_lossy().to_string();
    let name = first.trim_end_matches(".rs").to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// Which top-level modules of the crate at `root` each one uses.
fn module_edges(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(root);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| top_module_in(root, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in &files {
        let Some(from) = top_module_in(root, file) else { continue };
        let uses = names_after(&code_of(file), "crate::");
        let targets = edges.entry(from.clone()).or_default();
        targets.extend(uses.into_iter().filter(|m| modules.contains(m) && *m != from));
    }
    edges
}

#[test]
fn top_level_modules_form_no_cycle() {
    for (name, root) in crate_sources() {
        let edges = module_edges(&root);
        assert!(edges.len() >= 7, "{name}: found only {:?}: is the scan reading {}?", edges.keys(), root.display());
        assert!(edges.values().map(BTreeSet::len).sum::<usize>() >= 6, "{name}: too few dependencies found: {edges:?}");
        let found = cycles(&edges);
        assert!(found.is_empty(), "module cycles in {name}: {found:?}\n(dependencies: {edges:#?})");
    }
}

/// The `[dependencies]` table of a manifest, one crate name per entry.
fn dependencies(manifest: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut in_table = false;
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[dependencies]";
        } else if in_table && !line.is_empty() && !line.starts_with('#') {
            out.insert(line.split(['=', ' ', '.']).next().unwrap_or("").to_string());
        }
    }
    out
}

#[test]
fn crates_depend_downwards_and_the_models_carry_no_tool_dependencies() {
    let core = dependencies(&repo().join("Cargo.toml"));
    let models = dependencies(&repo().join("graphs/Cargo.toml"));
    let cli = dependencies(&repo().join("graphs/cli/Cargo.toml"));
    assert!(models.contains("wgraph") && cli.contains("wgraph-models"), "manifests not read: {models:?} {cli:?}");
    for upper in ["wgraph-models", "wgraph-cli"] {
        assert!(!core.contains(upper), "the core depends on `{upper}`");
    }
    assert!(!models.contains("wgraph-cli"), "wgraph-models depends on the tool");
    for tool_only in ["clap", "indicatif", "ctrlc", "plotters", "image"] {
        assert!(!models.contains(tool_only), "wgraph-models depends on `{tool_only}`, which only the tool needs");
        assert!(
            cli.contains(tool_only) || tool_only == "image",
            "the tool no longer uses `{tool_only}`: update this list"
        );
    }
    // The sources agree with the manifests: nothing names a crate above it.
    for (name, root, above) in [
        ("wgraph", src(), &["wgraph_models", "wgraph_cli"][..]),
        ("wgraph-models", repo().join("graphs/src"), &["wgraph_cli", "clap", "indicatif", "plotters"][..]),
    ] {
        for file in rust_files(&root) {
            let code = code_of(&file);
            for crate_name in above {
                assert!(!code.contains(&format!("{crate_name}::")), "{name}: {} uses `{crate_name}`", file.display());
            }
        }
    }
}

#[test]
fn no_tool_command_uses_another() {
    let dir = repo().join("graphs/cli/src/commands");
    let files = rust_files(&dir);
    let commands: BTreeSet<String> = files
        .iter()
        .filter_map(|f| f.file_stem())
        .map(|s| s.to_string_lossy().to_string())
        .filter(|s| s != "mod")
        .collect();
    assert!(commands.len() >= 15, "found only {commands:?}");
    let mut wrong = Vec::new();
    for file in &files {
        let code = code_of(file);
        let uses = names_after(&code, "super::").into_iter().chain(names_after(&code, "crate::commands::"));
        for used in uses.filter(|u| commands.contains(u)) {
            wrong.push(format!("{} uses the `{used}` command: move what they share out of commands/", file.display()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The layers, lowest first; a module may use only modules listed before it.
const LAYERS: &[&str] =
    &["settings", "io", "graph", "weights", "interp", "autodiff", "optim", "compile", "runtime", "debug", "train"];

#[test]
fn each_layer_uses_only_the_layers_below_it() {
    let files = rust_files(&src());
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut wrong = Vec::new();
    for file in &files {
        let Some(from) = top_module(file) else { continue };
        let from_rank = rank(&from).unwrap_or_else(|| panic!("module `{from}` is not in LAYERS: place it there"));
        for to in names_after(&code_of(file), "crate::") {
            if let Some(to_rank) = rank(&to) {
                if to_rank > from_rank {
                    wrong.push(format!("{} uses `{to}`, a higher layer", file.display()));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "layering violations:\n{}", wrong.join("\n"));
}

#[test]
fn files_within_each_module_form_no_cycle() {
    let mut checked = 0;
    for (_, root) in crate_sources() {
        checked += sibling_files_form_no_cycle(&root);
    }
    assert!(checked > 80, "only {checked} files checked");
}

/// Checks every directory under `root` for file cycles; returns the number
/// of files read.
fn sibling_files_form_no_cycle(root: &Path) -> usize {
    let files = rust_files(root);
    // Sibling files by directory: `compile/fuse.rs` and `compile/lower.rs`.
    let mut dirs: BTreeMap<PathBuf, Vec<PathBuf>> = BTreeMap::new();
    for f in &files {
        dirs.entry(f.parent().expect("a parent").to_path_buf()).or_default().push(f.clone());
    }
    let mut checked = 0;
    for (dir, siblings) in &dirs {
        let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().to_string()).unwrap_or_default();
        let names: BTreeSet<String> =
            siblings.iter().map(|p| stem(p)).filter(|n| n != "mod" && n != "lib" && n != "main").collect();
        let module = dir.strip_prefix(root).map(|p| p.to_string_lossy().replace('/', "::")).unwrap_or_default();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in siblings {
            let from = stem(file);
            if from == "mod" || from == "lib" || from == "main" {
                continue;
            }
            let code = code_of(file);
            let mut uses = names_after(&code, "super::");
            if !module.is_empty() {
                uses.extend(names_after(&code, &format!("crate::{module}::")));
            }
            edges.entry(from.clone()).or_default().extend(uses.into_iter().filter(|n| names.contains(n) && *n != from));
            checked += 1;
        }
        let found = cycles(&edges);
        assert!(found.is_empty(), "file cycles in {}/{module}: {found:?}\n(dependencies: {edges:#?})", root.display());
    }
    checked
}

#[test]
fn the_scanner_sees_a_cycle() {
    // The checker itself must be able to fail.
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycles(&edges), vec![vec!["a".to_string(), "b".to_string()]]);
    assert_eq!(
        names_after("use super::{device::Device, error::RuntimeError};", "super::"),
        BTreeSet::from(["device".to_string(), "error".to_string()])
    );
}
