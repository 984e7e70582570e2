//! `wgraph train --inputs`: one batch every step trains on, or one batch
//! per step along a leading steps axis.
//!
//! The rule: the model declares the rank of each forward argument
//! (`input_ids` `[batch, seq]`, ...). When every tensor of the file has
//! exactly that rank, the file is one batch. When every tensor has one more
//! leading axis, the file holds that many batches and step `i` (1-based)
//! trains on slice `(i - 1) mod count`. Anything else (some tensors with
//! the extra axis and some without, or leading axes of different lengths)
//! is ambiguous and refused. The forward arguments decide; `labels` must
//! then agree (with HF's `[batch, 1]` for per-sequence labels allowed).

use crate::error::{bad, CliError};
use wgraph::graph::ShapeDisplay;
use wgraph::{Dim, Tensor};

/// The batches of a file, in step order.
pub(crate) struct Batches {
    /// One or more batches, each the forward arguments plus `labels`.
    pub(crate) batches: Vec<Vec<(String, Tensor)>>,
    /// Whether the file carried a leading steps axis.
    pub(crate) steps_axis: bool,
}

/// A forward argument the model declares: name and shape.
pub(crate) struct Declared {
    pub(crate) name: String,
    pub(crate) shape: Vec<Dim>,
}

/// Splits `feed` (every tensor of the inputs file) into batches. `declared`
/// are the graph's inputs; `per_sequence_labels` allows labels with a
/// trailing axis of 1 where the loss reads one label per sequence (HF's
/// `labels.view(-1)`), which are read without it.
pub(crate) fn split(
    feed: Vec<(String, Tensor)>,
    declared: &[Declared],
    per_sequence_labels: bool,
) -> Result<Batches, CliError> {
    let takes = || {
        let list: Vec<String> = declared.iter().map(|d| format!("{} {}", d.name, ShapeDisplay(&d.shape))).collect();
        list.join(", ")
    };
    let rank_of = |name: &str| declared.iter().find(|d| d.name == name).map(|d| d.shape.len());
    for (name, _) in &feed {
        if rank_of(name).is_none() {
            return Err(bad(format!("`{name}` is not an input of this model; it takes {}", takes())));
        }
    }

    // The forward arguments decide whether there is a steps axis.
    let mut extra: Vec<(String, usize)> = Vec::new();
    for (name, t) in feed.iter().filter(|(n, _)| n != "labels") {
        let want = rank_of(name).unwrap_or(0);
        let got = t.shape().len();
        if got != want && got != want + 1 {
            return Err(bad(format!(
                "`{name}` has shape {:?}: this model takes rank {want} ({name} {}), or rank {} with a leading \
                 steps axis (one batch per step)",
                t.shape(),
                declared_shape(declared, name),
                want + 1
            )));
        }
        extra.push((name.clone(), got - want));
    }
    let with: Vec<&str> = extra.iter().filter(|e| e.1 == 1).map(|e| e.0.as_str()).collect();
    let without: Vec<&str> = extra.iter().filter(|e| e.1 == 0).map(|e| e.0.as_str()).collect();
    if !with.is_empty() && !without.is_empty() {
        return Err(bad(format!(
            "ambiguous steps axis: {} {} one more leading axis than the model takes but {} {} not; either every \
             tensor has a leading steps axis (one batch per step) or none has (every step uses the whole file)",
            with.join(", "),
            if with.len() == 1 { "has" } else { "have" },
            without.join(", "),
            if without.len() == 1 { "does" } else { "do" },
        )));
    }
    let steps_axis = !with.is_empty();

    let mut feed = feed;
    if let Some((_, labels)) = feed.iter_mut().find(|(n, _)| n == "labels") {
        let want = rank_of("labels").unwrap_or(0) + usize::from(steps_axis);
        let shape = labels.shape().to_vec();
        if per_sequence_labels && shape.len() == want + 1 && shape.last() == Some(&1) {
            *labels = labels.clone().reshape(&shape[..want]).map_err(bad)?;
        } else if shape.len() != want {
            let decided = if extra.is_empty() {
                String::new()
            } else if steps_axis {
                format!(" with the leading steps axis {} carry", with.join(", "))
            } else {
                format!(" without a steps axis, as {} say", without.join(", "))
            };
            return Err(bad(format!(
                "`labels` has shape {shape:?}: this model takes labels {}{}, so rank {want}{decided}",
                declared_shape(declared, "labels"),
                if steps_axis { " per step" } else { "" },
            )));
        }
    }
    if !steps_axis {
        return Ok(Batches { batches: vec![feed], steps_axis });
    }

    let count = feed[0].1.shape()[0];
    if let Some((name, t)) = feed.iter().find(|(_, t)| t.shape()[0] != count) {
        let (first, _) = &feed[0];
        return Err(bad(format!(
            "the steps axis does not match: `{first}` holds {count} batches (leading axis) but `{name}` holds {} \
             (shape {:?}); every tensor needs the same number of batches",
            t.shape()[0],
            t.shape()
        )));
    }
    if count == 0 {
        return Err(bad("the steps axis is empty: the file holds 0 batches"));
    }
    let mut batches = vec![Vec::with_capacity(feed.len()); count];
    for (name, t) in &feed {
        for (i, slice) in slices(t).map_err(bad)?.into_iter().enumerate() {
            batches[i].push((name.clone(), slice));
        }
    }
    Ok(Batches { batches, steps_axis })
}

fn declared_shape(declared: &[Declared], name: &str) -> String {
    declared.iter().find(|d| d.name == name).map(|d| ShapeDisplay(&d.shape).to_string()).unwrap_or_default()
}

/// The slices of `t` along its first axis.
fn slices(t: &Tensor) -> Result<Vec<Tensor>, wgraph::graph::TensorError> {
    let count = t.shape()[0];
    let bytes = t.to_le_bytes();
    let per = bytes.len() / count.max(1);
    (0..count)
        .map(|i| Tensor::from_le_bytes(t.dtype(), t.shape()[1..].to_vec(), &bytes[i * per..(i + 1) * per]))
        .collect()
}
