//! GGUF files through the weight registry, against HF transformers' own GGUF
//! loader on the same files (tests/fixtures/gguf/generate_llama.py): a tiny
//! LLaMA written as llama.cpp's converter writes it (names renamed, Q and K
//! rows permuted for its rotary layout), in f32 and with Q8_0 / Q4_1
//! blocks. Every tensor comes back under its HF name with HF's values.

mod common;

use wgraph::{DType, Weights};

fn open(name: &str) -> Weights {
    Weights::open([common::fixture(&format!("gguf/{name}"))]).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn tensors_read_under_hf_names_with_hf_values() {
    for file in ["tiny_llama_f32.gguf", "tiny_llama_q8_0.gguf"] {
        let gguf = open(file);
        let reference = open(&file.replace(".gguf", ".hf.safetensors"));
        let mut names: Vec<&str> = gguf.names().collect();
        names.sort_unstable();
        let mut want: Vec<&str> = reference.names().collect();
        want.sort_unstable();
        assert_eq!(names, want, "{file}: HF's names, every one");
        for name in want {
            let got = gguf.get(name, DType::F32).unwrap_or_else(|e| panic!("{file}: {name}: {e}"));
            let expected = reference.get(name, DType::F32).unwrap();
            assert_eq!(got.shape(), expected.shape(), "{file}: {name}");
            let (g, w) = (got.to_f32_vec(), expected.to_f32_vec());
            let worst = g.iter().zip(&w).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            // ggml's dequantization is a product of two f32 values per element,
            // as HF's numpy one: equal to the bit.
            assert_eq!(worst, 0.0, "{file}: {name} differs from HF's by up to {worst}");
        }
        let q = gguf.info("model.layers.1.self_attn.q_proj.weight").unwrap();
        assert_eq!(q.file_name.as_deref(), Some("blk.1.attn_q.weight"), "the file's own name is kept");
        assert_eq!(q.file_dtype, if file.contains("q8_0") { "Q8_0" } else { "F32" });
        let arch = gguf.gguf().and_then(|f| f.architecture()).map(String::from);
        assert_eq!(arch.as_deref(), Some("llama"));
    }
}

/// Q and K are stored in llama.cpp's rotary order: read without undoing
/// it, the rows would differ from HF's (this would catch a skipped
/// permutation even where the values happen to be close).
#[test]
fn q_and_k_rows_are_stored_permuted() {
    let gguf = open("tiny_llama_f32.gguf");
    let file = gguf.gguf().unwrap();
    let bytes = std::fs::read(common::fixture("gguf/tiny_llama_f32.gguf")).unwrap();
    let reference = open("tiny_llama_f32.hf.safetensors");
    for (stored, hf, heads) in [
        ("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight", 4),
        ("blk.0.attn_k.weight", "model.layers.0.self_attn.k_proj.weight", 2),
    ] {
        let t = file.tensors.iter().find(|t| t.name == stored).unwrap();
        let raw: Vec<f32> = bytes[t.start as usize..(t.start + t.bytes) as usize]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let want = reference.get(hf, DType::F32).unwrap().to_f32_vec();
        assert_ne!(raw, want, "{stored}: stored rows are not HF's order");
        let cols = t.dims[0] as usize;
        let order = wgraph::weights::gguf::rotary_rows(raw.len() / cols, heads).unwrap();
        let undone: Vec<f32> = order.iter().flat_map(|&r| raw[r * cols..(r + 1) * cols].iter().copied()).collect();
        assert_eq!(undone, want, "{stored}: un-permuted, HF's rows");
        assert_eq!(gguf.get(hf, DType::F32).unwrap().to_f32_vec(), want);
    }
}

#[test]
fn a_broken_gguf_is_refused_naming_the_file_and_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(common::fixture("gguf/tiny_llama_q8_0.gguf")).unwrap();
    bytes.truncate(bytes.len() - 100);
    let path = dir.path().join("cut.gguf");
    std::fs::write(&path, &bytes).unwrap();
    let e = Weights::open([&path]).unwrap_err().to_string();
    assert!(e.contains("cut.gguf") && e.contains("past the end of the file"), "{e}");
    assert!(e.contains("tensor `output.weight`"), "{e}");
}
