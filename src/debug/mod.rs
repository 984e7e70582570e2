//! Debugging numbers. Three kinds of file come out of wgraph, each with its
//! own word: a graph *listing* (the IR as text, DOT or JSON:
//! [`crate::graph::dump_text`], `wgraph dump`), a *capture* of
//! intermediates (safetensors under HF module names: [`capture`],
//! `wgraph run --dump`, compared against PyTorch's here) and a *program
//! listing* (the compiled program as a directory: [`program_listing`],
//! `wgraph dump --compiled`). The CLI keeps its `dump` spellings.

pub mod capture;
pub mod check;
pub mod compare;
mod compare_text;
pub mod device_check;
pub mod diagnosis;
mod grad_diagnosis;
pub mod graph_diff;
pub mod nonfinite;
pub mod op_table;
pub mod program_listing;
pub mod walk;

pub use capture::{dump_bytes, dump_names, read_dump, write_dump, EXECUTION_ORDER};
#[cfg(not(target_arch = "wasm32"))]
pub use check::check_against_interpreter;
pub use check::{check_against_interpreter_async, CheckError, CheckReport};
pub use compare::{compare, Comparison};
#[cfg(not(target_arch = "wasm32"))]
pub use device_check::check_device;
pub use device_check::{check_device_async, CaseFailure, DeviceReport};
pub use diagnosis::{diagnose, Moments, Tolerance};
pub use graph_diff::{diff_graphs, Difference, GraphDump};
#[cfg(not(target_arch = "wasm32"))]
pub use nonfinite::find_non_finite;
pub use nonfinite::{find_non_finite_async, NonFinite, Stats};
pub use program_listing::write_program_dump;
pub use walk::{Section, GRAD_PREFIX};
