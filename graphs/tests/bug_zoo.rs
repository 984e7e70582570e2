//! The bug zoo: classic porting bugs seeded into small DistilBERT and LLaMA
//! checkpoints (or their inputs), each run through wgraph with every named
//! module tapped and compared with PyTorch's dump of the correct model
//! (tests/fixtures/models/*/torch_dump.safetensors, made by
//! tools/torch_dump.py). `compare` must name the module where the bug first
//! shows, every time.

use std::path::PathBuf;
use std::sync::OnceLock;
use wgraph::debug::{compare, Tolerance};
use wgraph::{CompileOptions, Compiler, Device, NamedTensors, Tensor, Weights};
use wgraph_graphs::{zoo, HfConfig};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/models").join(name)
}

fn device() -> &'static Device {
    static DEVICE: OnceLock<Device> = OnceLock::new();
    DEVICE.get_or_init(|| Device::new().unwrap_or_else(|e| panic!("GPU tests need an adapter: {e}")))
}

fn read_all(path: &std::path::Path) -> Vec<(String, Tensor)> {
    let w = Weights::open([path]).unwrap();
    let names: Vec<String> = w.names().map(String::from).collect();
    names.into_iter().map(|n| (n.clone(), w.read(&n).unwrap())).collect()
}

/// A seeded bug: what it does to the checkpoint, the config and the inputs.
struct Bug {
    what: &'static str,
    weights: fn(&mut Vec<(String, Tensor)>),
    config: fn(&mut serde_json::Value),
    inputs: fn(&mut Vec<(String, Tensor)>),
    /// Modules `compare` may name (the first module output the bug changes).
    expect: &'static [&'static str],
}

fn no_weights(_: &mut Vec<(String, Tensor)>) {}
fn no_config(_: &mut serde_json::Value) {}
fn no_inputs(_: &mut Vec<(String, Tensor)>) {}

fn swap(tensors: &mut [(String, Tensor)], a: &str, b: &str) {
    let ia = tensors.iter().position(|(n, _)| n == a).unwrap();
    let ib = tensors.iter().position(|(n, _)| n == b).unwrap();
    let ta = tensors[ia].1.clone();
    tensors[ia].1 = tensors[ib].1.clone();
    tensors[ib].1 = ta;
}

fn transpose_square(tensors: &mut [(String, Tensor)], name: &str) {
    let t = &mut tensors.iter_mut().find(|(n, _)| n == name).unwrap().1;
    let n = t.shape()[0];
    let v = t.to_f32_vec();
    *t = Tensor::new([n, n], (0..n * n).map(|i| v[(i % n) * n + i / n]).collect::<Vec<f32>>()).unwrap();
}

fn map_mask(inputs: &mut [(String, Tensor)], f: fn(i64) -> i64) {
    let t = &mut inputs.iter_mut().find(|(n, _)| n == "attention_mask").unwrap().1;
    let v: Vec<i64> = t.to_i64_vec().into_iter().map(f).collect();
    *t = Tensor::new(t.shape().to_vec(), v).unwrap();
}

/// Runs the bugged port with every module tapped, compares with PyTorch.
fn first_divergence(model: &str, bug: &Bug) -> (String, Option<String>) {
    let dir = fixture(model);
    let tmp = tempfile::tempdir().unwrap();
    let mut config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    (bug.config)(&mut config);
    std::fs::write(tmp.path().join("config.json"), config.to_string()).unwrap();
    let loaded = zoo::load(tmp.path()).unwrap();
    let mut tensors = read_all(&dir.join("model.safetensors"));
    (bug.weights)(&mut tensors);
    let weights = Weights::from_tensors(tensors);
    let mut inputs = read_all(&dir.join("inputs.safetensors"));
    (bug.inputs)(&mut inputs);
    let options = CompileOptions { taps: vec!["*".into()], ..Default::default() };
    let model_ = Compiler::new(device()).with_options(options).compile(&loaded.graph, &weights).unwrap();
    let (outputs, mut taps) = model_.run_with_taps(inputs).unwrap();
    taps.0.extend(outputs);
    let reference = NamedTensors(read_all(&dir.join("torch_dump.safetensors")));
    let result = compare(&taps, &reference, Tolerance::default());
    let text = result.to_string();
    result.first_divergence.unwrap_or_else(|| panic!("{}: no divergence found\n{text}", bug.what))
}

fn check(model: &str, bugs: &[Bug]) {
    let _ = HfConfig::from_dir(fixture(model)).unwrap();
    for bug in bugs {
        let (name, why) = first_divergence(model, bug);
        assert!(
            bug.expect.contains(&name.as_str()),
            "{model}, {}: compare named `{name}` ({why:?}), expected one of {:?}",
            bug.what,
            bug.expect
        );
    }
}

#[test]
fn distilbert_bugs_are_found_where_they_are() {
    check(
        "distilbert_classifier",
        &[
            Bug {
                what: "q and k weights swapped in layer 1",
                weights: |t| {
                    swap(
                        t,
                        "distilbert.transformer.layer.1.attention.q_lin.weight",
                        "distilbert.transformer.layer.1.attention.k_lin.weight",
                    );
                    swap(
                        t,
                        "distilbert.transformer.layer.1.attention.q_lin.bias",
                        "distilbert.transformer.layer.1.attention.k_lin.bias",
                    );
                },
                config: no_config,
                inputs: no_inputs,
                expect: &["distilbert.transformer.layer.1.attention.q_lin"],
            },
            Bug {
                what: "a Linear weight read transposed",
                weights: |t| transpose_square(t, "distilbert.transformer.layer.0.attention.out_lin.weight"),
                config: no_config,
                inputs: no_inputs,
                expect: &["distilbert.transformer.layer.0.attention.out_lin"],
            },
            Bug {
                what: "attention mask ignored",
                weights: no_weights,
                config: no_config,
                inputs: |i| map_mask(i, |_| 1),
                expect: &[
                    "distilbert.transformer.layer.0.attention.out_lin",
                    "distilbert.transformer.layer.0.attention",
                ],
            },
            Bug {
                what: "attention mask inverted",
                weights: no_weights,
                config: no_config,
                inputs: |i| map_mask(i, |m| 1 - m),
                expect: &[
                    "distilbert.transformer.layer.0.attention.out_lin",
                    "distilbert.transformer.layer.0.attention",
                ],
            },
        ],
    );
}

#[test]
fn llama_bugs_are_found_where_they_are() {
    check(
        "llama_tied_mha",
        &[
            Bug {
                what: "q and k projections swapped in layer 1",
                weights: |t| {
                    swap(t, "model.layers.1.self_attn.q_proj.weight", "model.layers.1.self_attn.k_proj.weight")
                },
                config: no_config,
                inputs: no_inputs,
                expect: &["model.layers.1.self_attn.q_proj"],
            },
            Bug {
                what: "wrong RMSNorm epsilon",
                weights: no_weights,
                config: |c| c["rms_norm_eps"] = serde_json::json!(0.5),
                inputs: no_inputs,
                expect: &["model.layers.0.input_layernorm"],
            },
            Bug {
                what: "wrong rope_theta",
                weights: no_weights,
                config: |c| c["rope_parameters"]["rope_theta"] = serde_json::json!(10000.0),
                inputs: no_inputs,
                expect: &["model.layers.0.self_attn.o_proj", "model.layers.0.self_attn"],
            },
            Bug {
                what: "an MLP Linear read transposed",
                weights: |t| transpose_square(t, "model.layers.2.mlp.down_proj.weight"),
                config: no_config,
                inputs: no_inputs,
                expect: &["model.layers.2.mlp.down_proj", "model.layers.2.mlp"],
            },
        ],
    );
}
