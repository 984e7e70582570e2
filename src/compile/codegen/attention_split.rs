//! The fused attention's form for a few query rows (shaders/
//! attention_split.wgsl): a workgroup per query row whose lanes split the
//! keys, for decoding, where the one-row-per-lane form keeps one lane of a
//! workgroup busy. Its row code is the main form's for one row
//! (`attention::rows_code`); this adds the lanes' combination.

use super::shaders::{self, fill};
use crate::compile::error::CompileError;

/// The code of `tm` query rows from `first` on (`attention::rows_code`):
/// their bases, the state each keeps, one key's step of the loop, and
/// their stores.
pub(super) struct RowsCode {
    pub bases: String,
    pub init: String,
    pub body: String,
    pub store: String,
}

/// The variant name profiles show for this form.
pub const SPLIT_KEYS: &str = "keys split across lanes";

/// The longest query a kernel takes this form for: one row per workgroup
/// reads every key and value row once per row, where the main form reads
/// them once for up to 16 rows, so past a few rows the main form wins.
pub const SPLIT_KEYS_MAX_ROWS: usize = 4;

/// What the form's source needs besides its row code: the bindings (the
/// main form's, so that either runs on the same bind group), the
/// workgroup size and the sizes as WGSL expressions.
pub(super) struct SplitSource<'a> {
    pub binds: &'a str,
    pub wg: u32,
    pub m: &'a str,
    pub n: &'a str,
    pub batch: &'a str,
    pub dv: usize,
    pub vec: bool,
}

/// The WGSL of the form from one row's code (`code`, from `rows_code` with
/// one row and no subgroup sharing) and the output row's first value
/// (`out_row`, with `{t}` for the row).
pub(super) fn split_keys_wgsl(s: &SplitSource<'_>, code: &RowsCode, out_row: &str) -> Result<String, CompileError> {
    let (ty, dv_steps) = if s.vec { ("vec4<f32>", s.dv / 4) } else { ("f32", s.dv) };
    // Each lane parks its rescaled value sums for the others to add up.
    let park: String =
        (0..dv_steps).map(|c| format!("    lane_acc[lid * DV_STEPS + {c}u] = a0_{c} * rescale;\n")).collect();
    let store = if s.vec {
        ["x", "y", "z", "w"]
            .iter()
            .enumerate()
            .map(|(i, x)| format!("        out[o + 4u * s + {i}u] = acc.{x} * inv;\n"))
            .collect()
    } else {
        "        out[o + s] = acc * inv;\n".to_string()
    };
    let values = [
        ("COMMON", shaders::COMMON.source.to_string()),
        ("BINDINGS", s.binds.to_string()),
        ("WG", s.wg.to_string()),
        ("DV_STEPS", dv_steps.to_string()),
        ("TY", ty.to_string()),
        ("ACC_LEN", (s.wg as usize * dv_steps).to_string()),
        ("M", s.m.to_string()),
        ("N", s.n.to_string()),
        ("BATCH", s.batch.to_string()),
        ("BASES", code.bases.clone()),
        ("INIT", code.init.clone()),
        ("BODY", code.body.clone()),
        ("PARK", park),
        ("OUT_ROW", out_row.replace("{t}", "0")),
        ("STORE", store),
    ];
    let refs: Vec<(&str, &str)> = values.iter().map(|(k, v)| (*k, v.as_str())).collect();
    fill(shaders::ATTENTION_SPLIT, &refs)
}
