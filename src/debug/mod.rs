//! Debugging numbers: comparing dumps of intermediates against a reference.

pub mod compare;

pub use compare::{compare, diagnose, Comparison, Tolerance};
