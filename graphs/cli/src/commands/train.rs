//! `wgraph train`: fine-tune an HF checkpoint on the GPU with
//! `wgraph::train::Trainer` and write the result as an HF checkpoint
//! directory.

use crate::batches::{self, Declared};
use crate::error::{bad, failed, CliError};
use crate::inputs::{fill_hf_defaults, read_file};
use crate::labels::{check_class_ids, logits_width};
use crate::outdir::OutputDir;
use crate::progress::step;
use clap::ValueEnum;
use std::io::Write as _;
use std::path::PathBuf;
use wgraph::graph::{bind_inputs, NamedTensors, Op};
use wgraph::optim::{OptimFlags, OptimizerKind, Recipe, ScheduleKind};
use wgraph::train::Trainer;
use wgraph::weights::save_safetensors;
use wgraph::{Device, Tensor, Weights};
use wgraph_models::loss::ProblemType;
use wgraph_models::zoo::{self, LossKind};

/// Shown after the flags in `wgraph train --help`.
pub(crate) const AFTER_HELP: &str = "\
BATCHES holds HF forward arguments (input_ids, attention_mask, token_type_ids; any integer dtype; \
missing attention_mask and token_type_ids default as in HF) plus `labels`:
  - every tensor with exactly the rank the model takes (input_ids [batch, seq]; labels: class ids \
[batch], float targets [batch] or [batch, num_labels], token ids [batch, seq] for a causal LM): one \
batch, and every step trains on the whole file;
  - every tensor with one more leading axis, of one common length S (input_ids [S, batch, seq], \
labels [S, batch]): step I trains on slice (I - 1) mod S, cycling when --steps exceeds S.
A file with the extra axis on some tensors but not others, or leading axes of different lengths, \
is refused.

Each step prints `step I loss L` (I from 1; L the loss before that step's update). Defaults follow \
torch.optim: AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 (0 for sgd and adam), \
applied to every parameter; no clipping unless --clip-norm; schedules are transformers' \
get_*_schedule_with_warmup stepped after each update (with warmup the first update has lr 0). \
Dropout is off.

OUT_DIR becomes an HF checkpoint directory: config.json copied from MODEL_DIR, model.safetensors \
(f32) with every tensor the checkpoint stores under its name (tied weights under each name stored), \
and tokenizer and generation files copied when present. It is written into a temporary sibling \
directory, fsynced and renamed into place, so it is never half written. OUT_DIR may not be MODEL_DIR \
or contain an input, nor be an existing non-empty directory unless --force.

Exit status: 0 on success, 2 on bad input (files, flags, paths), 1 when compiling or running fails.";

/// The optimizer flag's values.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum OptimizerArg {
    /// torch.optim.AdamW (decoupled weight decay).
    Adamw,
    /// torch.optim.SGD.
    Sgd,
    /// torch.optim.Adam (L2 weight decay added to the gradient).
    Adam,
}

/// The learning-rate schedule after the warmup.
#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum ScheduleArg {
    Constant,
    Linear,
    Cosine,
}

/// `wgraph train`'s arguments.
#[derive(clap::Args)]
pub(crate) struct Args {
    /// HF checkpoint directory (config.json + model.safetensors) with a task
    /// head: DistilBertForSequenceClassification, BertForSequenceClassification
    /// or LlamaForCausalLM.
    model_dir: PathBuf,
    /// HF forward arguments plus `labels`, optionally with a leading steps
    /// axis (see below).
    #[arg(long, value_name = "BATCHES.safetensors")]
    inputs: PathBuf,
    /// Number of optimizer steps (also where linear and cosine schedules reach 0).
    #[arg(long)]
    steps: u64,
    /// The optimizer, with torch.optim's defaults.
    #[arg(long, value_enum, default_value = "adamw")]
    optimizer: OptimizerArg,
    /// Base learning rate [default: 1e-3].
    #[arg(long)]
    lr: Option<f64>,
    /// Weight decay [default: 0.01 for adamw, 0 for sgd and adam].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// SGD momentum [default: 0].
    #[arg(long)]
    momentum: Option<f64>,
    /// Clip the global gradient 2-norm to this (clip_grad_norm_) before each update.
    #[arg(long)]
    clip_norm: Option<f64>,
    /// Linear warmup steps [default: 0].
    #[arg(long)]
    warmup: Option<u64>,
    /// Learning-rate schedule after the warmup [default: constant].
    #[arg(long, value_enum)]
    schedule: Option<ScheduleArg>,
    /// The checkpoint directory to write.
    #[arg(long, value_name = "OUT_DIR")]
    output: PathBuf,
    /// Replace OUT_DIR when it exists and is not empty.
    #[arg(long)]
    force: bool,
    /// Run the training doctor over the first steps (up to 50) and print
    /// one `doctor: ` line per finding; `--doctor=table` adds the
    /// per-parameter gradient norm, update ratio and weight norm.
    #[arg(long, num_args = 0..=1, default_missing_value = "lines", value_parser = ["lines", "table"])]
    doctor: Option<String>,
}

impl Args {
    fn flags(&self) -> OptimFlags {
        OptimFlags {
            optimizer: match self.optimizer {
                OptimizerArg::Adamw => OptimizerKind::AdamW,
                OptimizerArg::Sgd => OptimizerKind::Sgd,
                OptimizerArg::Adam => OptimizerKind::Adam,
            },
            lr: self.lr,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            clip_norm: self.clip_norm,
            warmup: self.warmup,
            schedule: self.schedule.map(|s| match s {
                ScheduleArg::Constant => ScheduleKind::Constant,
                ScheduleArg::Linear => ScheduleKind::Linear,
                ScheduleArg::Cosine => ScheduleKind::Cosine,
            }),
            steps: self.steps,
        }
    }
}

/// Files of an HF checkpoint directory besides the weights that a trained
/// copy keeps unchanged.
const COMPANION_FILES: [&str; 9] = [
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "generation_config.json",
];

pub(crate) fn exec(args: &Args) -> Result<(), CliError> {
    if args.steps == 0 {
        return Err(bad("--steps must be at least 1"));
    }
    let recipe = Recipe::from_flags(&args.flags()).map_err(bad)?;
    let config = args.model_dir.join("config.json");
    if !config.is_file() {
        return Err(bad(format!("{} is not an HF checkpoint directory: no config.json", args.model_dir.display())));
    }
    // Checked (and the temporary directory created) before any work, so a
    // bad OUT_DIR fails in a second, not after training.
    let out = OutputDir::prepare(&args.output, &args.model_dir, &args.inputs, args.force)?;

    let feed = read_file(&args.inputs).map_err(|e| bad(format!("--inputs {}: {e}", args.inputs.display())))?;
    let Some(labels) = feed.iter().find(|(n, _)| n == "labels").map(|(_, t)| t.clone()) else {
        let has: Vec<&str> = feed.iter().map(|(n, _)| n.as_str()).collect();
        return Err(bad(format!(
            "{} has no `labels`: `wgraph train` computes HF's loss from them, as forward(labels=...) does \
             (the file holds: {})",
            args.inputs.display(),
            if has.is_empty() { "nothing".to_string() } else { has.join(", ") }
        )));
    };
    let loaded = zoo::load_with_loss(&args.model_dir, labels.dtype()).map_err(bad)?;
    let kind = loaded.loss.expect("load_with_loss builds a loss");
    let classes = logits_width(&loaded.graph);
    let per_sequence = match kind {
        LossKind::SequenceClassification(ProblemType::SingleLabelClassification) => true,
        LossKind::SequenceClassification(ProblemType::Regression) => classes == Some(1),
        _ => false,
    };
    if labels.dtype().is_int() {
        if let Some(n) = classes {
            check_class_ids(&labels, n, kind)?;
        }
    }
    let ir = loaded.graph.ir().map_err(failed)?.clone();
    let declared: Vec<Declared> = ir
        .inputs()
        .iter()
        .filter_map(|&id| match &ir.node(id).op {
            Op::Input { name, shape, .. } => Some(Declared { name: name.clone(), shape: shape.clone() }),
            _ => None,
        })
        .collect();
    let split = batches::split(feed, &declared, per_sequence)?;
    let mut batches = Vec::with_capacity(split.batches.len());
    for (i, batch) in split.batches.into_iter().enumerate() {
        let batch = fill_hf_defaults(&loaded.graph, batch).map_err(bad)?;
        bind_inputs(&ir, batch.clone()).map_err(|e| {
            let which = if split.steps_axis { format!(" (batch {i} of the steps axis)") } else { String::new() };
            bad(format!("{}{which}: {e}", args.inputs.display()))
        })?;
        batches.push(batch);
    }
    let weights = Weights::from_dir(&args.model_dir).map_err(bad)?;
    loaded.graph.check_weights(&weights).map_err(bad)?;

    let loss = {
        let (_, id) = ir.outputs.iter().find(|(n, _)| n == "loss").ok_or_else(|| failed("the graph has no `loss`"))?;
        loaded.graph.value(*id).ok_or_else(|| failed("the graph lost its `loss` node"))?
    };
    let device = Device::new().map_err(failed)?;
    let bar = step("compiling the training step, uploading");
    let mut trainer = Trainer::new(&device, &loss, &[], &weights, recipe)?;
    bar.finish_and_clear();
    for finding in trainer.warnings() {
        eprintln!("warning: {}", finding.to_string().trim_start_matches("doctor: "));
    }
    let mut first = 0;
    if let Some(mode) = &args.doctor {
        let k = args.steps.min(50);
        let doctor_batches = (0..k).map(|i| batches[(i % batches.len() as u64) as usize].clone());
        let diagnosis = trainer.diagnose(doctor_batches, &wgraph::train::DoctorOptions::default())?;
        for (i, loss) in diagnosis.losses.iter().enumerate() {
            println!("step {} loss {loss}", i + 1);
        }
        for line in diagnosis.lines() {
            println!("{line}");
        }
        if mode == "table" {
            print!("{}", diagnosis.table_text());
        }
        first = k;
    }
    let mut stdout = std::io::stdout().lock();
    for i in first..args.steps {
        let batch = batches[(i % batches.len() as u64) as usize].clone();
        let loss = trainer.step(batch)?;
        // A closed stdout (`| head`) does not stop the training.
        let _ = writeln!(stdout, "step {} loss {loss}", i + 1);
        let _ = stdout.flush();
    }
    drop(stdout);

    let trained = trainer.parameters()?;
    let tensors = checkpoint_tensors(&weights, trained, &loaded.tied)?;
    let count = tensors.len();
    save_safetensors(out.file("model.safetensors"), &NamedTensors(tensors), Some(metadata())).map_err(failed)?;
    out.copy_in(&config)?;
    let mut copied = vec!["config.json", "model.safetensors"];
    for name in COMPANION_FILES {
        let from = args.model_dir.join(name);
        if from.is_file() {
            out.copy_in(&from)?;
            copied.push(name);
        }
    }
    out.commit()?;
    eprintln!("wrote {} ({}; {count} tensors)", args.output.display(), copied.join(", "));
    Ok(())
}

/// Every tensor the checkpoint stores, in its order: trained parameters
/// under their names, a tied parameter also under each other name the
/// checkpoint stored it as, and anything else (frozen or unused) unchanged.
fn checkpoint_tensors(
    weights: &Weights,
    trained: NamedTensors,
    tied: &[(String, String)],
) -> Result<Vec<(String, Tensor)>, CliError> {
    let mut out = Vec::with_capacity(weights.len());
    for name in weights.names() {
        let value = match trained.get(name) {
            Some(t) => t.clone(),
            None => match tied.iter().find(|(n, _)| n == name).and_then(|(_, read_as)| trained.get(read_as)) {
                Some(t) => t.clone(),
                None => weights.read(name).map_err(failed)?,
            },
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// `format: pt`, which HF's loaders expect of a PyTorch checkpoint.
fn metadata() -> std::collections::HashMap<String, String> {
    [("format".to_string(), "pt".to_string())].into_iter().collect()
}
