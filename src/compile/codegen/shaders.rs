//! The WGSL templates, listed once. Each is a real `.wgsl` file under
//! `shaders/` with `{{NAME}}` placeholders that Rust fills with plain text
//! (index math and sizes are computed here, never by template loops).

pub const COMMON: &str = include_str!("../../../shaders/common.wgsl");
pub const ROW_COMMON: &str = include_str!("../../../shaders/row_common.wgsl");
pub const ELEMENTWISE: &str = include_str!("../../../shaders/elementwise.wgsl");
pub const MATMUL_REGISTER: &str = include_str!("../../../shaders/matmul_register.wgsl");
pub const MATMUL_TILED: &str = include_str!("../../../shaders/matmul_tiled.wgsl");
pub const SOFTMAX: &str = include_str!("../../../shaders/softmax.wgsl");
pub const NORM: &str = include_str!("../../../shaders/norm.wgsl");
pub const REDUCE: &str = include_str!("../../../shaders/reduce.wgsl");
pub const ARGMAX: &str = include_str!("../../../shaders/argmax.wgsl");
pub const CONV1D: &str = include_str!("../../../shaders/conv1d.wgsl");

/// Every template by name (for tests that check each one is used and valid).
pub const ALL: [(&str, &str); 10] = [
    ("common", COMMON),
    ("row_common", ROW_COMMON),
    ("elementwise", ELEMENTWISE),
    ("matmul_register", MATMUL_REGISTER),
    ("matmul_tiled", MATMUL_TILED),
    ("softmax", SOFTMAX),
    ("norm", NORM),
    ("reduce", REDUCE),
    ("argmax", ARGMAX),
    ("conv1d", CONV1D),
];

/// Replaces every `{{KEY}}`. A placeholder left unfilled is a wgraph bug;
/// it is reported by naga validation of the result, which cannot parse `{{`.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (k, v) in values {
        out = out.replace(&format!("{{{{{k}}}}}"), v);
    }
    out
}
