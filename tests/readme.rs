//! README.md points only at what exists: every relative link or image, and
//! every repository path it names in backticks (`graphs/src/llama.rs`,
//! `tools/torch_dump.py`). Its Rust snippets are compiled as doctests
//! (`ReadmeSnippets` in src/lib.rs).

use std::path::Path;

/// Repository paths named in `text`: backticked words that start with a
/// top-level directory, without a trailing `:line` or glob.
fn named_paths(text: &str) -> Vec<String> {
    const TOP: [&str; 9] =
        ["src/", "graphs/", "tests/", "examples/", "tools/", "scripts/", "shaders/", "benches/", "docs/"];
    let mut out = Vec::new();
    for (i, chunk) in text.split('`').enumerate() {
        // Odd chunks are inside backticks; take the first word.
        let word = chunk.split_whitespace().next().unwrap_or("");
        if i % 2 == 1 && TOP.iter().any(|t| word.starts_with(t)) {
            let path = word.split(':').next().unwrap_or(word);
            let path = path.split('*').next().unwrap_or(path).trim_end_matches(['.', ',', ')']);
            out.push(path.to_string());
        }
    }
    out
}

/// Targets of markdown links and images that are not URLs or anchors.
fn relative_links(text: &str) -> Vec<String> {
    text.match_indices("](")
        .filter_map(|(at, _)| text[at + 2..].split(')').next())
        .filter(|t| !t.starts_with("http") && !t.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn readme_names_only_what_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let paths = named_paths(&text);
    assert!(paths.len() > 20, "too few paths found: {paths:?}");
    let links = relative_links(&text);
    let missing: Vec<&String> = paths.iter().chain(&links).filter(|p| !root.join(p).exists()).collect();
    assert!(missing.is_empty(), "README.md names paths that do not exist: {missing:?}");
}

#[test]
fn the_scanner_finds_paths_and_links() {
    let text =
        "see `graphs/src/llama.rs:12` and `tools/x.py --flag`, [b](BENCHMARKS.md) ![c](docs/c.png) [u](https://x)";
    assert_eq!(named_paths(text), ["graphs/src/llama.rs", "tools/x.py"]);
    assert_eq!(relative_links(text), ["BENCHMARKS.md", "docs/c.png"]);
}
