//! The `config.json` a GGUF file implies: llama.cpp keeps a model's
//! hyperparameters as `<architecture>.<key>` metadata, and HF's GGUF
//! loader maps them onto its config the same way, so every model command
//! that takes a checkpoint directory takes a `.gguf` file too.

use serde_json::{json, Map, Value};
use std::path::Path;
use wgraph::weights::gguf::{GgufFile, MetaValue};

/// `(GGUF key after the architecture, HF key)` for the LLaMA family.
const LLAMA_KEYS: &[(&str, &str)] = &[
    ("context_length", "max_position_embeddings"),
    ("embedding_length", "hidden_size"),
    ("feed_forward_length", "intermediate_size"),
    ("block_count", "num_hidden_layers"),
    ("attention.head_count", "num_attention_heads"),
    ("attention.head_count_kv", "num_key_value_heads"),
    ("attention.layer_norm_rms_epsilon", "rms_norm_eps"),
    ("rope.freq_base", "rope_theta"),
    ("vocab_size", "vocab_size"),
];

/// Reads the GGUF header of `path` and writes the `config.json` HF's
/// loader would: LLaMA-family files only (`general.architecture`
/// `llama`). The error says why the file describes no such model.
pub fn config_from_gguf(path: &Path) -> Result<String, String> {
    let weights = wgraph::Weights::open([path]).map_err(|e| e.to_string())?;
    let gguf = weights.gguf().ok_or("not a GGUF file, and not a model directory")?;
    Ok(config_json(gguf)?.to_string())
}

/// The config as JSON, or why the file describes no model wgraph builds.
fn config_json(gguf: &GgufFile) -> Result<Value, String> {
    let arch = gguf.architecture().ok_or("no `general.architecture` key: not a model file")?;
    if arch != "llama" {
        return Err(format!("architecture `{arch}` is not supported from GGUF (only `llama`)"));
    }
    if let Some(key) = gguf.metadata.iter().map(|(k, _)| k).find(|k| k.starts_with("llama.rope.scaling")) {
        return Err(format!("`{key}`: scaled rotary embeddings are not supported"));
    }
    let mut config = Map::new();
    config.insert("model_type".into(), json!("llama"));
    config.insert("architectures".into(), json!(["LlamaForCausalLM"]));
    for &(key, hf) in LLAMA_KEYS {
        if let Some(v) = gguf.get(&format!("llama.{key}")) {
            config.insert(hf.into(), number(v).ok_or_else(|| format!("`llama.{key}` is {v}, not a number"))?);
        }
    }
    if !config.contains_key("vocab_size") {
        let tokens = gguf.get("tokenizer.ggml.tokens").and_then(MetaValue::as_array).map(<[MetaValue]>::len);
        config.insert("vocab_size".into(), json!(tokens.ok_or("neither `llama.vocab_size` nor a token list")?));
    }
    if let (Some(h), Some(heads)) = (gguf.get("llama.embedding_length"), gguf.get("llama.attention.head_count")) {
        let head_dim = gguf.get("llama.attention.key_length").or(gguf.get("llama.rope.dimension_count"));
        if let (Some(d), Some(h), Some(n)) = (head_dim.and_then(MetaValue::as_u64), h.as_u64(), heads.as_u64()) {
            if n > 0 && d != h / n {
                config.insert("head_dim".into(), json!(d));
            }
        }
    }
    // No `output.weight`: the head reads the embedding (HF's tied head).
    let tied = !gguf.tensors.iter().any(|t| t.name == "output.weight");
    config.insert("tie_word_embeddings".into(), json!(tied));
    for (key, hf) in [("tokenizer.ggml.bos_token_id", "bos_token_id"), ("tokenizer.ggml.eos_token_id", "eos_token_id")]
    {
        if let Some(id) = gguf.get(key).and_then(MetaValue::as_u64) {
            config.insert(hf.into(), json!(id));
        }
    }
    Ok(Value::Object(config))
}

fn number(v: &MetaValue) -> Option<Value> {
    match v {
        MetaValue::F32(_) | MetaValue::F64(_) => v.as_f64().map(|x| json!(x)),
        _ => v.as_u64().map(|x| json!(x)),
    }
}
