//! Deterministic pseudo-random test data, without a device: the op
//! table's generator.

pub use wgraph::debug::op_table::Rng;
