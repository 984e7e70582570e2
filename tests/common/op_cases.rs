//! The one table of op cases every op test iterates: the library's
//! (`wgraph::debug::op_table`, which the browser's device check runs too),
//! under the names the tests use.

pub use wgraph::debug::op_table::*;

/// The case called `name` (a test names only cases the table has).
pub fn case(name: &str) -> &'static OpCase {
    wgraph::debug::op_table::case(name).unwrap_or_else(|| panic!("no op case {name}"))
}
