//! Everything the PyTorch twin (tools/reversal_torch.py) needs to train
//! the same model from the same start on the same data:
//!
//! ```text
//! DIR/initial_weights.safetensors   every parameter, f32, under its checkpoint name (`tok_emb.weight`, ...)
//! DIR/batches.safetensors           `tokens`, `targets`: i64 [K, batch, seq_len], the first K training batches
//! DIR/config.json                   sizes, activation, optimizer, clipping, schedule, file checksums
//! DIR/wgraph_losses.safetensors     `loss`: f32 [steps], written after wgraph trained (examples/reversal.rs)
//! ```
//!
//! Each file is written atomically, and `config.json` last (after removing
//! an older one first): a directory with a `config.json` holds a complete
//! export. The checksums (FNV-1a 64 over each tensor's name, dtype, shape
//! and little-endian bytes, in name order; the twin recomputes them) tie the
//! config to the tensors, so a twin run on a stale or mixed directory
//! refuses, and a test can tell whether wgraph still generates what the
//! twin saw without storing the tensors.

use super::{build, initial_weights, recipe, ReversalConfig, TaskData, TrainOptions};
use crate::nn::Activation;
use serde_json::{json, Value as Json};
use std::path::Path;
use wgraph::optim::{OptimizerConfig, Schedule};
use wgraph::{DType, NamedTensors, Tensor};

/// Version tag of the export layout, `format` in `config.json`.
pub const FORMAT: &str = "wgraph-reversal-export/1";
/// The initial weights' file name inside the export directory.
pub const WEIGHTS_FILE: &str = "initial_weights.safetensors";
/// The batches' file name inside the export directory.
pub const BATCHES_FILE: &str = "batches.safetensors";
/// The settings' file name inside the export directory.
pub const CONFIG_FILE: &str = "config.json";
/// wgraph's losses after training, inside the export directory.
pub const LOSSES_FILE: &str = "wgraph_losses.safetensors";

/// An export held in memory: what [`Export::write`] puts on disk.
#[derive(Debug, Clone)]
pub struct Export {
    /// `config.json`'s contents.
    pub config: Json,
    /// The initial weights, by checkpoint name, sorted by name.
    pub weights: Vec<(String, Tensor)>,
    /// `tokens` and `targets`, i64 `[K, batch, seq_len]`.
    pub batches: Vec<(String, Tensor)>,
}

impl Export {
    /// The initial weights and the first `batches` training batches of
    /// `cfg` and `options` (exactly what [`super::prepare`] gives the
    /// trainer), and the settings of [`super::recipe`].
    pub fn new(cfg: &ReversalConfig, options: &TrainOptions, batches: usize) -> Result<Export, String> {
        cfg.validate()?;
        if let Some(bug) = cfg.bug {
            return Err(format!("--export with --bug {bug}: the PyTorch twin builds the correct model only"));
        }
        if batches == 0 {
            return Err("--export-batches 0 leaves the twin nothing to train on".into());
        }
        let model = build(cfg);
        let mut weights = initial_weights(&model.graph, cfg, options.seed);
        weights.sort_by(|a, b| a.0.cmp(&b.0));
        // The training stream's first batches do not depend on how many follow.
        let data = TaskData::new(cfg.seq_len, cfg.vocab, options.seed, batches, options.batch, 0);
        let stack = |pick: fn(&super::Batch) -> &Tensor| -> Result<Tensor, String> {
            let values: Vec<i64> = data.train.iter().flat_map(|b| pick(b).to_i64_vec()).collect();
            Tensor::new([batches, options.batch, cfg.seq_len], values).map_err(|e| e.to_string())
        };
        let batches_tensors =
            vec![("targets".to_string(), stack(|b| &b.targets)?), ("tokens".to_string(), stack(|b| &b.tokens)?)];
        let config = settings(cfg, options, batches, &checksum(&weights), &checksum(&batches_tensors))?;
        Ok(Export { config, weights, batches: batches_tensors })
    }

    /// Writes the export into `dir` (created if missing), `config.json` last.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let config_path = dir.join(CONFIG_FILE);
        match std::fs::remove_file(&config_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot replace {}: {e}", config_path.display())),
        }
        save(&dir.join(WEIGHTS_FILE), &self.weights)?;
        save(&dir.join(BATCHES_FILE), &self.batches)?;
        let mut text = serde_json::to_string_pretty(&self.config).map_err(|e| e.to_string())?;
        text.push('\n');
        wgraph::io::write_atomic(&config_path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", config_path.display()))
    }
}

/// Writes wgraph's losses, `loss` f32 `[steps]`, as `dir/wgraph_losses.safetensors`
/// (what the twin's `--check` reads).
pub fn write_losses(dir: &Path, losses: &[f32]) -> Result<(), String> {
    let loss = Tensor::new([losses.len()], losses.to_vec()).map_err(|e| e.to_string())?;
    save(&dir.join(LOSSES_FILE), &[("loss".to_string(), loss)])
}

fn save(path: &Path, tensors: &[(String, Tensor)]) -> Result<(), String> {
    wgraph::weights::save_safetensors(path, &NamedTensors(tensors.to_vec()), None)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// `fnv1a64:<16 hex digits>` over `tensors` in name order: for each, the
/// UTF-8 line `name|DTYPE|d0,d1,...\n` (safetensors dtype spelling), then
/// its little-endian bytes.
pub fn checksum(tensors: &[(String, Tensor)]) -> String {
    let mut sorted: Vec<&(String, Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    for (name, t) in sorted {
        let shape: Vec<String> = t.shape().iter().map(usize::to_string).collect();
        feed(format!("{name}|{}|{}\n", dtype_name(t.dtype()), shape.join(",")).as_bytes());
        feed(&t.to_le_bytes());
    }
    format!("fnv1a64:{h:016x}")
}

fn dtype_name(d: DType) -> &'static str {
    match d {
        DType::F32 => "F32",
        DType::F64 => "F64",
        DType::F16 => "F16",
        DType::BF16 => "BF16",
        DType::I32 => "I32",
        DType::I64 => "I64",
        DType::U32 => "U32",
        DType::Bool => "BOOL",
    }
}

/// `config.json`: every setting the twin reads, from the recipe wgraph trains with.
fn settings(
    cfg: &ReversalConfig,
    options: &TrainOptions,
    batches: usize,
    weights_sum: &str,
    batches_sum: &str,
) -> Result<Json, String> {
    let r = recipe(cfg, options);
    let OptimizerConfig::AdamW(adam) = r.optimizer else {
        return Err(format!("the twin trains with AdamW, the recipe uses {}", r.optimizer.kind()));
    };
    let schedule = match r.schedule {
        Schedule::Cosine { warmup, total, cycles } => {
            json!({ "name": "cosine_with_warmup", "warmup_steps": warmup, "total_steps": total, "num_cycles": cycles })
        }
        other => return Err(format!("the twin follows a cosine schedule, the recipe has {other:?}")),
    };
    let activation = match cfg.activation {
        Activation::Gelu(wgraph::Gelu::Erf) => "gelu",
        Activation::Gelu(wgraph::Gelu::Tanh) => "gelu_tanh",
        Activation::Relu => "relu",
        Activation::Silu => "silu",
        Activation::Tanh => "tanh",
    };
    Ok(json!({
        "format": FORMAT,
        "seed": options.seed,
        "model": {
            "seq_len": cfg.seq_len,
            "vocab": cfg.vocab,
            "d_model": cfg.d_model,
            "layers": cfg.layers,
            "heads": cfg.heads,
            "ff": cfg.ff,
            "activation": activation,
            "layer_norm_eps": 1e-5,
            "norm": "pre",
            "loss": "cross_entropy_mean_over_all_positions",
        },
        "data": { "batch": options.batch, "batches": batches },
        "optimizer": {
            "name": "adamw",
            "lr": adam.lr,
            "betas": [adam.beta1, adam.beta2],
            "eps": adam.eps,
            "weight_decay": adam.weight_decay,
        },
        "clip_norm": r.clip_norm,
        "schedule": schedule,
        "files": { "initial_weights": WEIGHTS_FILE, "batches": BATCHES_FILE },
        "checksums": { "initial_weights": weights_sum, "batches": batches_sum },
    }))
}
