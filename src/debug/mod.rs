//! Debugging numbers: comparing dumps of intermediates against a reference.

pub mod check;
pub mod compare;
mod compare_text;
pub mod diagnosis;
pub mod dump_file;
mod grad_diagnosis;
pub mod graph_diff;
pub mod nonfinite;
pub mod program_dump;
pub mod walk;

pub use check::{check_against_interpreter, CheckError, CheckReport};
pub use compare::{compare, Comparison};
pub use diagnosis::{diagnose, Moments, Tolerance};
pub use dump_file::{dump_bytes, dump_names, read_dump, write_dump, EXECUTION_ORDER};
pub use graph_diff::{diff_graphs, Difference, GraphDump};
pub use nonfinite::{find_non_finite, NonFinite, Stats};
pub use program_dump::write_program_dump;
pub use walk::{Section, GRAD_PREFIX};
