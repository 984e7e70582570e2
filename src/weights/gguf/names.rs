//! GGUF tensor names and the HF names the model zoo declares: llama.cpp's
//! converter renames every tensor (`model.layers.3.self_attn.q_proj.weight`
//! becomes `blk.3.attn_q.weight`), and stores the rows of Q and K
//! permuted for its rotary layout, which HF's GGUF loader undoes.

/// `(GGUF, HF)` names outside the blocks.
const GLOBAL: &[(&str, &str)] =
    &[("token_embd", "model.embed_tokens"), ("output_norm", "model.norm"), ("output", "lm_head")];

/// `(GGUF, HF)` names inside block `N` (`blk.N.` / `model.layers.N.`).
const BLOCK: &[(&str, &str)] = &[
    ("attn_norm", "input_layernorm"),
    ("attn_q", "self_attn.q_proj"),
    ("attn_k", "self_attn.k_proj"),
    ("attn_v", "self_attn.v_proj"),
    ("attn_output", "self_attn.o_proj"),
    ("ffn_norm", "post_attention_layernorm"),
    ("ffn_gate", "mlp.gate_proj"),
    ("ffn_up", "mlp.up_proj"),
    ("ffn_down", "mlp.down_proj"),
];

/// The HF name of a tensor of a GGUF file of `architecture`, when the
/// architecture is one whose names wgraph maps (the LLaMA family) and the
/// tensor has an HF counterpart.
pub fn hf_name(architecture: &str, gguf: &str) -> Option<String> {
    if !matches!(architecture, "llama" | "mistral") {
        return None;
    }
    let (stem, suffix) = gguf.rsplit_once('.')?;
    if !matches!(suffix, "weight" | "bias") {
        return None;
    }
    if let Some(&(_, hf)) = GLOBAL.iter().find(|(g, _)| *g == stem) {
        return Some(format!("{hf}.{suffix}"));
    }
    let rest = stem.strip_prefix("blk.")?;
    let (block, part) = rest.split_once('.')?;
    let block: usize = block.parse().ok()?;
    let &(_, hf) = BLOCK.iter().find(|(g, _)| *g == part)?;
    Some(format!("model.layers.{block}.{hf}.{suffix}"))
}

/// Which rotary permutation a tensor's rows carry: `Some(heads)` for Q
/// (all heads) and K (the KV heads) of a LLaMA-family file.
pub fn rotary_heads(gguf: &str, heads: usize, kv_heads: usize) -> Option<usize> {
    let stem = gguf.strip_suffix(".weight").or_else(|| gguf.strip_suffix(".bias"))?;
    if stem.ends_with(".attn_q") {
        Some(heads)
    } else if stem.ends_with(".attn_k") {
        Some(kv_heads)
    } else {
        None
    }
}

/// For each HF row, the GGUF row it is stored at, undoing llama.cpp's
/// converter: within each of `heads` heads of `2 * half` rows, HF row
/// `p * half + j` (the first half of the rotary pairs, then the second) is
/// stored at `2 * j + p` (pairs interleaved). `None` when the rows do not
/// split into `heads` heads of an even size.
pub fn rotary_rows(rows: usize, heads: usize) -> Option<Vec<usize>> {
    if heads == 0 || !rows.is_multiple_of(heads) || !(rows / heads).is_multiple_of(2) {
        return None;
    }
    let half = rows / heads / 2;
    let mut order = Vec::with_capacity(rows);
    for h in 0..heads {
        for p in 0..2 {
            for j in 0..half {
                order.push(h * 2 * half + 2 * j + p);
            }
        }
    }
    Some(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_hf_and_others_stay() {
        assert_eq!(
            hf_name("llama", "blk.12.attn_q.weight").as_deref(),
            Some("model.layers.12.self_attn.q_proj.weight")
        );
        assert_eq!(hf_name("llama", "blk.0.ffn_down.weight").as_deref(), Some("model.layers.0.mlp.down_proj.weight"));
        assert_eq!(hf_name("llama", "token_embd.weight").as_deref(), Some("model.embed_tokens.weight"));
        assert_eq!(hf_name("llama", "output.weight").as_deref(), Some("lm_head.weight"));
        assert_eq!(hf_name("llama", "blk.1.attn_q.bias").as_deref(), Some("model.layers.1.self_attn.q_proj.bias"));
        assert_eq!(hf_name("llama", "rope_freqs.weight"), None);
        assert_eq!(hf_name("llama", "blk.x.attn_q.weight"), None);
        assert_eq!(hf_name("gpt2", "blk.0.attn_q.weight"), None);
    }

    #[test]
    fn rotary_rows_undo_the_converters_permutation() {
        // The converter: rows reshaped [heads, 2, half], axes 1 and 2 swapped.
        let (heads, half) = (3, 4);
        let hf: Vec<usize> = (0..heads * 2 * half).collect();
        let mut stored = vec![0; hf.len()];
        for h in 0..heads {
            for p in 0..2 {
                for j in 0..half {
                    stored[h * 2 * half + j * 2 + p] = hf[h * 2 * half + p * half + j];
                }
            }
        }
        let order = rotary_rows(hf.len(), heads).unwrap();
        let back: Vec<usize> = order.iter().map(|&r| stored[r]).collect();
        assert_eq!(back, hf);
        assert_eq!(rotary_rows(10, 3), None);
        assert_eq!(rotary_rows(6, 2), None, "heads of 3 rows have no pairs");
        assert_eq!(rotary_heads("blk.0.attn_k.weight", 9, 3), Some(3));
        assert_eq!(rotary_heads("blk.0.attn_v.weight", 9, 3), None);
    }
}
