//! `wgraph grad`: HF's `forward(labels=...)` then `loss.backward()` on the
//! GPU; writes the loss and every parameter's gradient under its checkpoint
//! name, and optionally every module output and the gradient with respect to it.

use crate::args::ModelIo;
use crate::error::{bad, failed, CliError};
use crate::inputs::{fill_hf_defaults, read_file};
use crate::labels::{check_class_ids, logits_width};
use crate::paths::{refuse_overwriting_inputs, write_together};
use crate::progress::step;
use wgraph::debug::GRAD_PREFIX;
use wgraph::graph::{bind_inputs, NamedTensors};
use wgraph::weights::safetensors_bytes;
use wgraph::{CompileOptions, Device, Loader, Weights};
use wgraph_models::grad::gradient_graph;
use wgraph_models::loss::ProblemType;
use wgraph_models::zoo::{self, LossKind};

#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(flatten)]
    io: ModelIo,
}

pub(crate) fn exec(args: &Args) -> Result<(), CliError> {
    let ModelIo { model_dir, inputs, output, dump } = &args.io;
    let dump = dump.as_deref();
    refuse_overwriting_inputs(model_dir, inputs, output, dump)?;
    let mut feed = read_file(inputs)?;
    let Some(labels) = feed.iter().find(|(n, _)| n == "labels").map(|(_, t)| t.clone()) else {
        let has: Vec<&str> = feed.iter().map(|(n, _)| n.as_str()).collect();
        return Err(bad(format!(
            "{} has no `labels`: `wgraph grad` computes HF's loss from them, as forward(labels=...) does \
             (the file holds: {})",
            inputs.display(),
            if has.is_empty() { "nothing".to_string() } else { has.join(", ") }
        )));
    };
    let loaded = zoo::load_with_loss(model_dir, labels.dtype()).map_err(bad)?;
    let kind = loaded.loss.expect("load_with_loss builds a loss");
    let classes = logits_width(&loaded.graph);
    let grads = gradient_graph(loaded).map_err(failed)?;
    for name in &grads.unreachable {
        eprintln!("warning: parameter `{name}` does not reach the loss: its gradient is zeros (PyTorch leaves None)");
    }

    // Labels of [batch, 1] where the loss reads [batch]: HF flattens class
    // ids (`labels.view(-1)`) and squeezes a one-logit regression target.
    let per_sequence = match kind {
        LossKind::SequenceClassification(ProblemType::SingleLabelClassification) => true,
        LossKind::SequenceClassification(ProblemType::Regression) => classes == Some(1),
        _ => false,
    };
    if per_sequence && labels.shape().len() == 2 {
        if let Some((_, t)) = feed.iter_mut().find(|(n, _)| n == "labels") {
            if t.shape()[1] == 1 {
                let batch = t.shape()[0];
                *t = t.clone().reshape([batch]).map_err(bad)?;
            }
        }
    }
    if labels.dtype().is_int() {
        if let Some(n) = classes {
            check_class_ids(&labels, n, kind)?;
        }
    }
    let feed = fill_hf_defaults(&grads.graph, feed)?;
    {
        let ir = grads.graph.ir().map_err(failed)?;
        bind_inputs(&ir, feed.clone()).map_err(|e| {
            let hint = match kind {
                LossKind::SequenceClassification(p) if e.to_string().contains("`labels`") => format!(
                    " (with {} labels and {} classes the loss is HF's {}: {})",
                    labels.dtype(),
                    classes.unwrap_or(0),
                    p.name(),
                    match p {
                        ProblemType::SingleLabelClassification => "integer class ids [batch]",
                        ProblemType::Regression if classes == Some(1) => "float targets [batch]",
                        ProblemType::Regression => "float targets [batch, num_labels]",
                        ProblemType::MultiLabelClassification => "float targets [batch, num_labels] in 0..1",
                    }
                ),
                _ => String::new(),
            };
            bad(format!("{}: {e}{hint}", inputs.display()))
        })?;
    }
    let weights = Weights::from_dir(model_dir).map_err(bad)?;
    grads.graph.check_weights(&weights).map_err(bad)?;

    let device = Device::new().map_err(failed)?;
    let taps = if dump.is_some() { grads.dump_taps() } else { Vec::new() };
    let bar = step("compiling forward and backward, uploading");
    let model = Loader::new(&device)
        .with_options(CompileOptions { taps, ..Default::default() })
        .load(&grads.graph, &weights)?;
    bar.finish_and_clear();
    let (outputs, tapped) = model.run_with_taps(feed)?;

    let mut written = Vec::with_capacity(grads.parameters.len() + 1);
    for name in grads.gradient_outputs() {
        let t = outputs.get(name).ok_or_else(|| failed(format!("the program returned no `{name}`")))?;
        written.push((name.to_string(), t.clone()));
    }
    // A checkpoint that stores a tied parameter under both names gets its
    // gradient under both, as PyTorch's named_parameters(remove_duplicate=False).
    for (name, read_as) in &grads.tied {
        if weights.info(name).is_some() && !grads.parameters.contains(name) {
            if let Some(t) = outputs.get(read_as) {
                written.push((name.clone(), t.clone()));
            }
        }
    }
    let loss = written[0].1.to_f64_vec().first().copied().unwrap_or(f64::NAN);
    let written_count = written.len() - 1;
    let mut files = vec![(output.as_path(), safetensors_bytes(output, &NamedTensors(written), None).map_err(failed)?)];
    let dumped = dump.map(|_| grads.dump(&outputs, &tapped));
    if let (Some(path), Some(tensors)) = (dump, &dumped) {
        files.push((path, wgraph::debug::dump_bytes(path, tensors).map_err(failed)?));
    }
    // The gradients and the dump of one run land together or not at all.
    write_together(&files)?;
    println!("loss {loss}");
    eprintln!("wrote {} (loss and {} gradients)", output.display(), written_count);
    if let (Some(path), Some(tensors)) = (dump, dumped) {
        let count = tensors.names().filter(|n| n.starts_with(GRAD_PREFIX)).count();
        eprintln!(
            "wrote {} module outputs and {count} gradients with respect to them to {}",
            tensors.len() - count,
            path.display()
        );
    }
    Ok(())
}
