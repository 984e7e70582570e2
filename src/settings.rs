//! Settings from the environment, read once into one value when a device
//! or a compilation is set up (never per dispatch).
//!
//! | variable | meaning |
//! |---|---|
//! | `WGRAPH_DEBUG` | 1 passes and timings, 2 one line per dispatch, 3 the IR after each pass, 4 every WGSL kernel |
//! | `WGRAPH_BACKEND` | `vulkan`, `metal`, `dx12` or `gl` (default: the best adapter) |
//! | `WGRAPH_MATMUL` | `register` or `tiled`: the matmul kernel family (default: by adapter) |
//! | `WGRAPH_ATTENTION` | `off`: keep attention as two matmuls and a softmax instead of one fused kernel (default: fused) |
//! | `WGRAPH_MERGE_LINEARS` | `off`: keep linear layers that read one input (attention's Q/K/V projections) as separate products instead of one (default: merged) |
//! | `WGRAPH_DUMP_DIR` | where `WGRAPH_DEBUG=4` writes kernels (default `wgraph-dump`) |
//! | `WGRAPH_GRAPH` | a path: write the optimised graph there as Graphviz DOT |
//! | `WGRAPH_MEMORY_LIMIT` | bytes (suffixes `K`, `M`, `G`) one run's activations may take; a run needing more is refused before allocating |
//! | `WGRAPH_PIPELINE_THREADS` | threads creating a model's pipelines (default 1) |
//! | `WGRAPH_PIPELINE_CACHE` | a directory for the compiled-pipeline cache, or `off` (default: `$XDG_CACHE_HOME/wgraph`, else `~/.cache/wgraph`) |
//! | `WGRAPH_TIER` | `tuned` or `quick`: the one kernel tier a `TieredModel` uses (default: quick kernels first on drivers that compile at first dispatch, tuned ones swapped in once compiled in the background) |
//!
//! Read too: Mesa's `MESA_SHADER_CACHE_DISABLE` (and its older name
//! `MESA_GLSL_CACHE_DISABLE`): without Mesa's shader cache, kernels
//! compiled in the background cannot reach the device that runs them.

use std::path::PathBuf;

/// The debug level at which each kind of output appears.
pub mod level {
    /// Passes, their timings and buffer sizes.
    pub const PASSES: u32 = 1;
    /// One line per dispatch.
    pub const DISPATCHES: u32 = 2;
    /// The IR after each pass.
    pub const IR: u32 = 3;
    /// Every WGSL kernel, also written to the dump directory.
    pub const KERNELS: u32 = 4;
}

/// Every environment setting wgraph reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `WGRAPH_DEBUG` (see [`level`]).
    pub debug: u32,
    /// `WGRAPH_BACKEND`, as given (the runtime parses and checks it).
    pub backend: Option<String>,
    /// `WGRAPH_MATMUL`, as given (the compiler parses it).
    pub matmul: Option<String>,
    /// `WGRAPH_ATTENTION`, as given (the compiler reads `off`).
    pub attention: Option<String>,
    /// `WGRAPH_MERGE_LINEARS`, as given (the compiler reads `off`).
    pub merge_linears: Option<String>,
    /// `WGRAPH_DUMP_DIR`.
    pub dump_dir: PathBuf,
    /// `WGRAPH_GRAPH`.
    pub graph_dot: Option<PathBuf>,
    /// `WGRAPH_MEMORY_LIMIT`, in bytes.
    pub memory_limit: Option<u64>,
    /// `WGRAPH_PIPELINE_THREADS`: threads creating pipelines (`None`: one).
    pub pipeline_threads: Option<usize>,
    /// Where compiled pipelines persist between runs (`WGRAPH_PIPELINE_CACHE`),
    /// `None` when off.
    pub pipeline_cache: Option<PathBuf>,
    /// `WGRAPH_TIER`, as given (`TieredModel` reads `tuned` and `quick`).
    pub tier: Option<String>,
    /// `WGRAPH_TUNE`, as given (`off`, `quick`, `full`; the runtime's
    /// tuner parses it).
    pub tune: Option<String>,
    /// Whether Mesa's shader cache is switched off (`MESA_SHADER_CACHE_DISABLE`
    /// or `MESA_GLSL_CACHE_DISABLE` set to a true value).
    pub driver_cache_disabled: bool,
}

impl Default for Settings {
    /// Quiet, no overrides and no files: what a run without any variable
    /// set gets, except that the pipeline cache is off (a library user or a
    /// test that builds settings by hand writes nothing to the home
    /// directory unless it asks to).
    fn default() -> Settings {
        Settings {
            debug: 0,
            backend: None,
            matmul: None,
            attention: None,
            merge_linears: None,
            dump_dir: PathBuf::from("wgraph-dump"),
            graph_dot: None,
            memory_limit: None,
            pipeline_threads: None,
            pipeline_cache: None,
            tier: None,
            tune: None,
            driver_cache_disabled: false,
        }
    }
}

impl Settings {
    /// Reads every variable once.
    pub fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let defaults = Settings::default();
        Settings {
            debug: var("WGRAPH_DEBUG").and_then(|v| v.trim().parse().ok()).unwrap_or(0),
            backend: var("WGRAPH_BACKEND"),
            matmul: var("WGRAPH_MATMUL"),
            attention: var("WGRAPH_ATTENTION"),
            merge_linears: var("WGRAPH_MERGE_LINEARS"),
            dump_dir: var("WGRAPH_DUMP_DIR").map(PathBuf::from).unwrap_or(defaults.dump_dir),
            graph_dot: var("WGRAPH_GRAPH").map(PathBuf::from),
            memory_limit: var("WGRAPH_MEMORY_LIMIT").and_then(|v| parse_bytes(&v)),
            pipeline_threads: var("WGRAPH_PIPELINE_THREADS").and_then(|v| v.trim().parse().ok()),
            pipeline_cache: pipeline_cache_dir(var("WGRAPH_PIPELINE_CACHE"), var("XDG_CACHE_HOME"), var("HOME")),
            tier: var("WGRAPH_TIER"),
            tune: var("WGRAPH_TUNE"),
            driver_cache_disabled: ["MESA_SHADER_CACHE_DISABLE", "MESA_GLSL_CACHE_DISABLE"]
                .into_iter()
                .any(|name| var(name).is_some_and(|v| is_true(&v))),
        }
    }

    /// Whether output of debug level `at` is on.
    pub fn shows(&self, at: u32) -> bool {
        self.debug >= at
    }
}

/// Mesa's reading of a boolean variable: `1`, `true`, `yes` or `y`, any case.
fn is_true(value: &str) -> bool {
    ["1", "true", "yes", "y"].contains(&value.trim().to_ascii_lowercase().as_str())
}

/// `1048576`, `512K`, `64M`, `2G` (binary multiples) as bytes.
fn parse_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    let (digits, shift) = match t.chars().last()?.to_ascii_uppercase() {
        'K' => (&t[..t.len() - 1], 10),
        'M' => (&t[..t.len() - 1], 20),
        'G' => (&t[..t.len() - 1], 30),
        _ => (t, 0),
    };
    digits.trim().parse::<u64>().ok()?.checked_mul(1u64 << shift)
}

/// The pipeline cache directory: `setting` unless it says off, else the
/// user's cache dir (XDG's rule: `$XDG_CACHE_HOME`, else `~/.cache`), else
/// none (no home directory: nowhere sensible to write).
fn pipeline_cache_dir(setting: Option<String>, xdg_cache: Option<String>, home: Option<String>) -> Option<PathBuf> {
    match setting.as_deref().map(str::trim) {
        Some(off) if ["off", "0", "false", "no", "none"].contains(&off.to_ascii_lowercase().as_str()) => None,
        Some(dir) => Some(PathBuf::from(dir)),
        None => xdg_cache
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
            .or_else(|| home.map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("wgraph")),
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_bytes, pipeline_cache_dir};
    use std::path::PathBuf;

    #[test]
    fn pipeline_cache_dir_follows_the_setting_then_xdg_then_home() {
        let s = |v: &str| Some(v.to_string());
        assert_eq!(pipeline_cache_dir(s("off"), s("/x"), s("/h")), None);
        assert_eq!(pipeline_cache_dir(s("OFF"), None, None), None);
        assert_eq!(pipeline_cache_dir(s("/tmp/c"), s("/x"), s("/h")), Some(PathBuf::from("/tmp/c")));
        assert_eq!(pipeline_cache_dir(None, s("/x"), s("/h")), Some(PathBuf::from("/x/wgraph")));
        // XDG says relative paths are invalid and must be ignored.
        assert_eq!(pipeline_cache_dir(None, s("rel"), s("/h")), Some(PathBuf::from("/h/.cache/wgraph")));
        assert_eq!(pipeline_cache_dir(None, None, None), None);
    }

    #[test]
    fn memory_limits_read_with_binary_suffixes() {
        assert_eq!(parse_bytes("1048576"), Some(1 << 20));
        assert_eq!(parse_bytes("512K"), Some(512 << 10));
        assert_eq!(parse_bytes("64m"), Some(64 << 20));
        assert_eq!(parse_bytes(" 2G "), Some(2 << 30));
        assert_eq!(parse_bytes("lots"), None);
        assert_eq!(parse_bytes("99999999999999G"), None, "overflow is no limit, not a wrapped one");
    }
}
