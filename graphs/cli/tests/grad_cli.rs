//! `wgraph grad`, run as a user would: the loss and every parameter's
//! gradient against PyTorch's backward (tests/fixtures/grads), HF's input
//! defaults, tied parameters, and bad input refused with exit status 2.

#[path = "../../tests/common/fixtures.rs"]
mod fixtures;
use fixtures::model;

#[path = "common/cli_run.rs"]
mod cli_run;
#[path = "../../tests/common/grads.rs"]
mod grads;

use cli_run::wgraph;
use std::path::{Path, PathBuf};
use wgraph::Weights;

/// `wgraph grad MODEL --inputs IN --output OUT [--dump DUMP]`, as a user runs it.
fn grad(model: &Path, inputs: &Path, out: &Path, dump: Option<&Path>) -> (i32, String, String) {
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let mut args = vec!["grad".to_string(), path(model), "--inputs".into(), path(inputs), "--output".into(), path(out)];
    if let Some(d) = dump {
        args.extend(["--dump".to_string(), path(d)]);
    }
    wgraph(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Writes `tensors` as an inputs file in `dir`.
fn inputs_file(dir: &Path, name: &str, tensors: Vec<(String, wgraph::Tensor)>) -> PathBuf {
    let path = dir.join(name);
    wgraph::weights::save_safetensors(&path, &wgraph::NamedTensors(tensors), None).unwrap();
    path
}

#[test]
fn grad_writes_hf_loss_and_every_param_grad() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["distilbert_seqcls", "bert_regression", "llama_tied_mqa_lm"] {
        let dir = grads::fixture(name);
        let out = tmp.path().join(format!("{name}.safetensors"));
        let (code, stdout, err) = grad(&dir, &dir.join("inputs.safetensors"), &out, None);
        assert_eq!(code, 0, "{name}: {err}");
        assert!(stdout.starts_with("loss "), "{stdout}");
        let ours = wgraph::NamedTensors(grads::read_all(&out));
        let worst = grads::assert_matches_reference(name, &ours, 1e-3);
        eprintln!("{name}: `wgraph grad` worst gradient error {worst:.2e} of max");
        // Exactly the loss and one gradient per stored tensor, nothing else.
        let stored = Weights::from_dir(&dir).unwrap().names().count();
        assert_eq!(ours.len(), stored + 1, "{name}: {:?}", ours.names().collect::<Vec<_>>());
        let loss = ours.get("loss").unwrap();
        assert!(loss.shape().is_empty() && loss.dtype() == wgraph::DType::F32, "{name}: loss {loss:?}");
    }
}

#[test]
fn grad_accepts_any_integer_dtype_and_fills_hf_defaults() {
    // i32 ids and labels, no attention_mask (HF: all ones): the same as
    // PyTorch on an all-ones mask, so compare against the file with one.
    let dir = grads::fixture("llama_gqa_lm");
    let tmp = tempfile::tempdir().unwrap();
    let all = grads::read_all(&dir.join("inputs.safetensors"));
    let get = |n: &str| all.iter().find(|(k, _)| k == n).unwrap().1.clone();
    let ids = get("input_ids").cast(wgraph::DType::I32);
    let labels = get("labels").cast(wgraph::DType::I32);
    let ones = wgraph::Tensor::from_f64(wgraph::DType::I64, ids.shape().to_vec(), &vec![1.0; ids.numel()]).unwrap();
    let narrow = inputs_file(
        tmp.path(),
        "narrow.safetensors",
        vec![("input_ids".into(), ids.clone()), ("labels".into(), labels.clone())],
    );
    let full = inputs_file(
        tmp.path(),
        "full.safetensors",
        vec![("input_ids".into(), ids), ("attention_mask".into(), ones), ("labels".into(), labels)],
    );
    let (a, b) = (tmp.path().join("a.safetensors"), tmp.path().join("b.safetensors"));
    let (code, _, err) = grad(&dir, &narrow, &a, None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = grad(&dir, &full, &b, None);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = wgraph(&["compare", a.to_str().unwrap(), b.to_str().unwrap(), "--rtol", "0", "--atol", "0"]);
    assert_eq!(code, 0, "{out}");
}

/// `wgraph grad --dump` against PyTorch's full backward hooks
/// (tools/torch_dump.py --grads, committed): `compare` finds no divergence.
#[test]
fn grad_dump_matches_torch_backward_hooks() {
    let dir = grads::fixture("distilbert_seqcls");
    let tmp = tempfile::tempdir().unwrap();
    let (out, dump) = (tmp.path().join("out.safetensors"), tmp.path().join("dump.safetensors"));
    let (code, _, err) = grad(&dir, &dir.join("inputs.safetensors"), &out, Some(&dump));
    assert_eq!(code, 0, "{err}");
    let reference = dir.join("torch_grads_dump.safetensors");
    let (code, table, err) = wgraph(&["compare", dump.to_str().unwrap(), reference.to_str().unwrap()]);
    assert_eq!(code, 0, "{table}{err}");
    assert!(table.contains("no divergence"), "{table}");
    assert!(table.contains("-- gradients, in backward order"), "{table}");
    for name in [
        "distilbert.transformer.layer.1.ffn.lin1",
        "grad/logits",
        "grad/classifier",
        "grad/distilbert.transformer.layer.0.attention.q_lin",
        "grad/distilbert.transformer.layer.1.ffn.activation",
        "grad/distilbert.embeddings",
    ] {
        assert!(table.lines().any(|l| l.starts_with(&format!("{name} "))), "{name} is compared: {table}");
    }
    // Every name in our dump is a module output or the gradient with
    // respect to one (or `logits`, `loss`), never a parameter's gradient;
    // the gradients follow the forward values.
    let (_, listing, _) = wgraph(&["inspect", dump.to_str().unwrap()]);
    let names: Vec<&str> = listing
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("metadata:"))
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    for n in &names {
        assert!(!n.ends_with(".weight") && !n.ends_with(".bias"), "{n}");
    }
    assert!(names.contains(&"distilbert.transformer.layer.0.attention.q_lin") && names.contains(&"loss"));
    let (order, _) = wgraph::debug::dump_names(&dump).unwrap();
    let first_gradient = order.iter().position(|n| n.starts_with("grad/")).unwrap();
    assert!(order[first_gradient..].iter().all(|n| n.starts_with("grad/")), "{order:?}");
    assert!(["grad/classifier", "grad/logits"].contains(&order[first_gradient].as_str()), "{order:?}");
}

#[test]
fn grad_refuses_bad_inputs_with_status_2() {
    let dir = grads::fixture("distilbert_seqcls");
    let tmp = tempfile::tempdir().unwrap();
    let all = grads::read_all(&dir.join("inputs.safetensors"));
    let without = |drop: &str| all.iter().filter(|(n, _)| n != drop).cloned().collect::<Vec<_>>();
    let with_labels = |labels: wgraph::Tensor| {
        let mut v = without("labels");
        v.push(("labels".into(), labels));
        v
    };
    let out = tmp.path().join("out.safetensors");
    let expect_2 = |inputs: &Path, needle: &str| {
        let (code, _, err) = grad(&dir, inputs, &out, None);
        assert_eq!(code, 2, "{needle}: {err}");
        assert!(err.starts_with("error: ") && err.contains(needle), "wanted `{needle}` in: {err}");
        assert!(!out.exists(), "nothing is written on bad input");
    };

    expect_2(&inputs_file(tmp.path(), "no_labels.safetensors", without("labels")), "has no `labels`");
    // One label too many for a batch of 4: the batch size disagrees.
    let five = wgraph::Tensor::new([5], vec![0i64, 1, 2, 0, 1]).unwrap();
    expect_2(&inputs_file(tmp.path(), "five.safetensors", with_labels(five)), "labels");
    // [batch, 1] class ids are what HF's labels.view(-1) reads as [batch].
    let column = wgraph::Tensor::new([4, 1], vec![2i64, 0, 1, 2]).unwrap();
    let (code, _, err) = grad(&dir, &inputs_file(tmp.path(), "column.safetensors", with_labels(column)), &out, None);
    assert_eq!(code, 0, "{err}");
    grads::assert_matches_reference("distilbert_seqcls", &wgraph::NamedTensors(grads::read_all(&out)), 1e-3);
    std::fs::remove_file(&out).unwrap();
    // Per-token labels for a sequence classifier: wrong rank.
    let per_token = wgraph::Tensor::zeros(wgraph::DType::I64, vec![4, 7]).unwrap();
    expect_2(&inputs_file(tmp.path(), "rank.safetensors", with_labels(per_token)), "`labels` has rank 2");
    // Class 3 of a 3-label head.
    let bad_class = wgraph::Tensor::new([4], vec![0i64, 3, 1, 2]).unwrap();
    expect_2(&inputs_file(tmp.path(), "class.safetensors", with_labels(bad_class)), "element 1 is 3");
    // Output over the inputs file; a model without a task head.
    let inputs = dir.join("inputs.safetensors");
    let (code, _, err) = grad(&dir, &inputs, &inputs, None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("refusing to overwrite"), "{err}");
    let (code, _, err) = grad(&model("distilbert_base"), &inputs, &out, None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("a loss needs a task head"), "{err}");
    let (code, _, err) = grad(&dir, Path::new("/nonexistent.safetensors"), &out, None);
    assert_eq!(code, 2, "{err}");

    // A causal LM's labels must cover every token.
    let llama = grads::fixture("llama_gqa_lm");
    let all = grads::read_all(&llama.join("inputs.safetensors"));
    let mut short: Vec<_> = all.iter().filter(|(n, _)| n != "labels").cloned().collect();
    let ids = &all.iter().find(|(n, _)| n == "input_ids").unwrap().1;
    let (b, s) = (ids.shape()[0], ids.shape()[1]);
    short.push(("labels".into(), wgraph::Tensor::zeros(wgraph::DType::I64, vec![b, s - 1]).unwrap()));
    let short = inputs_file(tmp.path(), "short.safetensors", short);
    let (code, _, err) = grad(&llama, &short, &out, None);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("labels") && err.contains("axis 1"), "{err}");
}

/// A tied LM head stored under both names (older checkpoints do) gets the
/// one gradient under both, as `named_parameters(remove_duplicate=False)`.
#[test]
fn grad_writes_a_tied_parameter_under_every_name_the_checkpoint_stores() {
    let dir = grads::fixture("llama_tied_mqa_lm");
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("model");
    std::fs::create_dir(&model).unwrap();
    std::fs::copy(dir.join("config.json"), model.join("config.json")).unwrap();
    let mut tensors = grads::read_all(&dir.join("model.safetensors"));
    let table = tensors.iter().find(|(n, _)| n == "model.embed_tokens.weight").unwrap().1.clone();
    tensors.push(("lm_head.weight".into(), table));
    wgraph::weights::save_safetensors(model.join("model.safetensors"), &wgraph::NamedTensors(tensors), None).unwrap();
    let out = tmp.path().join("out.safetensors");
    let (code, _, err) = grad(&model, &dir.join("inputs.safetensors"), &out, None);
    assert_eq!(code, 0, "{err}");
    let ours = wgraph::NamedTensors(grads::read_all(&out));
    grads::assert_matches_reference("llama_tied_mqa_lm", &ours, 1e-3);
    let head = ours.get("lm_head.weight").expect("the tied head's gradient").to_f32_vec();
    assert_eq!(head, ours.get("model.embed_tokens.weight").unwrap().to_f32_vec());
}
