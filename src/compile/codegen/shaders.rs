//! The WGSL templates, listed once. Each is a real `.wgsl` file under
//! `shaders/` with `{{NAME}}` placeholders that Rust fills with plain text
//! in one pass (index math and sizes are computed here, never by template
//! loops). Filling fails on a placeholder without a value and on a value
//! without a placeholder, so a template and its generator cannot drift apart.

use crate::compile::error::CompileError;
use std::collections::BTreeSet;

/// A named WGSL template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// The file name under `shaders/`, without `.wgsl`.
    pub name: &'static str,
    /// The template text, placeholders included.
    pub source: &'static str,
}

macro_rules! templates {
    ($($konst:ident = $name:literal;)*) => {
        $(#[doc = concat!("The template in `shaders/", $name, ".wgsl`.")]
        pub const $konst: Template = Template { name: $name, source: include_str!(concat!("../../../shaders/", $name, ".wgsl")) };)*
        /// Every template (for tests that check each one is used and valid).
        pub const ALL: &[Template] = &[$($konst),*];
    };
}

templates! {
    COMMON = "common";
    ROW_COMMON = "row_common";
    ELEMENTWISE = "elementwise";
    MATMUL_REGISTER = "matmul_register";
    MATMUL_TILED = "matmul_tiled";
    SOFTMAX = "softmax";
    SOFTMAX_LANES = "softmax_lanes";
    NORM = "norm";
    NORM_TEXTURE = "norm_texture";
    NORM_GRAD = "norm_grad";
    NORM_GRAD_LANES = "norm_grad_lanes";
    REDUCE = "reduce";
    REDUCE_LANES = "reduce_lanes";
    REDUCE_COLUMNS = "reduce_columns";
    ARGMAX = "argmax";
    SCAN = "scan";
    SCATTER_ADD = "scatter_add";
    CONV1D = "conv1d";
    ATTENTION = "attention";
    ATTENTION_SPLIT = "attention_split";
    MATMUL_QUANT = "matmul_quant";
    MATMUL_QUANT_QUADS = "matmul_quant_quads";
    MATMUL_QUANT_HELPERS = "matmul_quant_helpers";
    DEQUANT_COMMON = "dequant_common";
    DEQUANT_WORDS = "dequant_words";
    DEQUANT_WORDS_TEXTURE = "dequant_words_texture";
    DEQUANT_WORDS_TEXTURE_LANE = "dequant_words_texture_lane";
    DEQUANT_K_SCALES = "dequant_k_scales";
    DEQUANT_Q8_0 = "dequant_q8_0";
    DEQUANT_Q4_0 = "dequant_q4_0";
    DEQUANT_Q4_1 = "dequant_q4_1";
    DEQUANT_Q5_0 = "dequant_q5_0";
    DEQUANT_Q5_1 = "dequant_q5_1";
    DEQUANT_Q4_K = "dequant_q4_k";
    DEQUANT_Q5_K = "dequant_q5_k";
    DEQUANT_Q6_K = "dequant_q6_k";
}

impl Template {
    /// The placeholder names the template contains, sorted.
    pub fn placeholders(&self) -> BTreeSet<&'static str> {
        let mut out = BTreeSet::new();
        let mut rest = self.source;
        while let Some(open) = rest.find("{{") {
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else { break };
            out.insert(&after[..close]);
            rest = &after[close + 2..];
        }
        out
    }
}

/// Replaces every `{{KEY}}` of `template` with its value, in one pass:
/// inserted text is never scanned again. Every placeholder needs exactly
/// one value and every value must be used.
pub fn fill(template: Template, values: &[(&str, &str)]) -> Result<String, CompileError> {
    let problem = |detail: String| CompileError::Template { template: template.name, detail };
    for (i, (key, _)) in values.iter().enumerate() {
        if values[..i].iter().any(|(k, _)| k == key) {
            return Err(problem(format!("`{key}` is given twice")));
        }
    }
    let mut used = vec![false; values.len()];
    let mut out = String::with_capacity(template.source.len() * 2);
    let mut rest = template.source;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}").ok_or_else(|| problem("a `{{` is never closed".into()))?;
        let key = &after[..close];
        let i = values
            .iter()
            .position(|(k, _)| *k == key)
            .ok_or_else(|| problem(format!("placeholder `{{{{{key}}}}}` has no value")))?;
        used[i] = true;
        out.push_str(values[i].1);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(problem(format!("`{}` has no `{{{{{}}}}}` placeholder to fill", values[i].0, values[i].0)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Template = Template { name: "t", source: "a {{X}} b {{Y}} {{X}}" };

    #[test]
    fn fills_every_placeholder_once_without_rescanning() {
        let got = fill(T, &[("X", "{{Y}}"), ("Y", "2")]).unwrap();
        assert_eq!(got, "a {{Y}} b 2 {{Y}}");
    }

    #[test]
    fn refuses_missing_unused_and_repeated_values() {
        let missing = fill(T, &[("X", "1")]).unwrap_err().to_string();
        assert_eq!(missing, "template `t`: placeholder `{{Y}}` has no value");
        let unused = fill(T, &[("X", "1"), ("Y", "2"), ("Z", "3")]).unwrap_err().to_string();
        assert_eq!(unused, "template `t`: `Z` has no `{{Z}}` placeholder to fill");
        let twice = fill(T, &[("X", "1"), ("X", "2")]).unwrap_err().to_string();
        assert_eq!(twice, "template `t`: `X` is given twice");
    }

    #[test]
    fn lists_placeholders() {
        assert_eq!(T.placeholders(), BTreeSet::from(["X", "Y"]));
        assert!(ALL.iter().any(|t| t.name == "softmax" && t.placeholders().contains("ROWS")));
    }
}
