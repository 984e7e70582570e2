//! The GGUF reader against the `gguf` package (llama.cpp's Python reader)
//! on files its writer made (tests/fixtures/gguf/generate_gguf.py): every
//! metadata type, tensor types, offsets, alignment and data bytes; then
//! broken files, each refused by name, and random mutations, which must
//! be refused or read, never panic. `WGRAPH_FUZZ_CASES=20000 cargo test
//! --release --test gguf_reader` runs a longer search.

mod common;

use common::Rng;
use serde_json::Value;
use wgraph::weights::gguf::{GgufError, GgufFile, MetaValue};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(common::fixture(&format!("gguf/{name}"))).unwrap()
}

fn expected() -> Value {
    serde_json::from_str(&std::fs::read_to_string(common::fixture("gguf/expected.json")).unwrap()).unwrap()
}

/// CRC-32 (IEEE), as Python's `zlib.crc32`.
fn crc32(bytes: &[u8]) -> u64 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    u64::from(!crc)
}

/// The package's type names for a value: `["ARRAY", "INT32"]`.
fn package_types(v: &MetaValue) -> Vec<String> {
    let name = match v {
        MetaValue::U8(_) => "UINT8",
        MetaValue::I8(_) => "INT8",
        MetaValue::U16(_) => "UINT16",
        MetaValue::I16(_) => "INT16",
        MetaValue::U32(_) => "UINT32",
        MetaValue::I32(_) => "INT32",
        MetaValue::F32(_) => "FLOAT32",
        MetaValue::Bool(_) => "BOOL",
        MetaValue::String(_) => "STRING",
        MetaValue::U64(_) => "UINT64",
        MetaValue::I64(_) => "INT64",
        MetaValue::F64(_) => "FLOAT64",
        MetaValue::Array(items) => {
            let mut t = vec!["ARRAY".to_string()];
            t.extend(items.first().map(package_types).unwrap_or_default());
            return t;
        }
    };
    vec![name.to_string()]
}

/// The value as the package's `contents()` gives it (nested arrays
/// flattened; floats as their `repr`, compared as numbers).
fn flat(v: &MetaValue, out: &mut Vec<Value>) {
    match v {
        MetaValue::Array(items) => items.iter().for_each(|i| flat(i, out)),
        MetaValue::String(s) => out.push(Value::from(s.clone())),
        MetaValue::Bool(b) => out.push(Value::from(*b)),
        MetaValue::F32(x) => out.push(Value::from(f64::from(*x))),
        MetaValue::F64(x) => out.push(Value::from(*x)),
        MetaValue::I8(_) | MetaValue::I16(_) | MetaValue::I32(_) | MetaValue::I64(_) => {
            out.push(Value::from(match *v {
                MetaValue::I8(x) => i64::from(x),
                MetaValue::I16(x) => i64::from(x),
                MetaValue::I32(x) => i64::from(x),
                MetaValue::I64(x) => x,
                _ => unreachable!(),
            }))
        }
        other => out.push(Value::from(other.as_u64().unwrap())),
    }
}

fn same_value(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(g), Value::String(w)) => g.as_f64() == w.parse::<f64>().ok(),
        _ => got == want,
    }
}

#[test]
fn files_read_as_the_gguf_package_reads_them() {
    let expected = expected();
    for (name, want) in expected.as_object().unwrap() {
        let bytes = fixture(name);
        let file = GgufFile::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(file.version, 3, "{name}");
        assert_eq!(file.alignment, want["alignment"].as_u64().unwrap(), "{name}: alignment");
        assert_eq!(file.data_start, want["data_start"].as_u64().unwrap(), "{name}: data start");
        let want_meta = want["metadata"].as_object().unwrap();
        let mut keys: Vec<&str> = file.metadata.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        let want_keys: Vec<&str> = want_meta.keys().map(String::as_str).collect();
        assert_eq!(keys, want_keys, "{name}: keys");
        for (key, value) in &file.metadata {
            let [types, contents] = want_meta[key].as_array().unwrap().as_slice() else { panic!("{key}") };
            let types: Vec<String> = types.as_array().unwrap().iter().map(|t| t.as_str().unwrap().into()).collect();
            assert_eq!(package_types(value), types, "{name}: type of {key}");
            let mut got = Vec::new();
            flat(value, &mut got);
            let want_values = match contents {
                Value::Array(v) => v.clone(),
                other => vec![other.clone()],
            };
            assert_eq!(got.len(), want_values.len(), "{name}: {key}");
            for (g, w) in got.iter().zip(&want_values) {
                assert!(same_value(g, w), "{name}: {key} is {g}, the package reads {w}");
            }
        }
        let want_tensors = want["tensors"].as_array().unwrap();
        assert_eq!(file.tensors.len(), want_tensors.len(), "{name}: tensor count");
        for (t, w) in file.tensors.iter().zip(want_tensors) {
            assert_eq!(t.name, w["name"].as_str().unwrap());
            assert_eq!(t.ggml_type.name(), w["type"].as_str().unwrap(), "{}", t.name);
            let dims: Vec<u64> = w["dims"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
            assert_eq!(t.dims, dims, "{}: dims in ggml order", t.name);
            assert_eq!(t.start, w["start"].as_u64().unwrap(), "{}: data start", t.name);
            assert_eq!(t.bytes, w["bytes"].as_u64().unwrap(), "{}: bytes", t.name);
            let data = &bytes[t.start as usize..(t.start + t.bytes) as usize];
            assert_eq!(crc32(data), w["crc32"].as_u64().unwrap(), "{}: data", t.name);
        }
    }
    let main = GgufFile::parse(&fixture("main.gguf")).unwrap();
    assert_eq!(main.architecture(), Some("llama"));
    let q4k = main.tensors.iter().find(|t| t.name == "q4_k.weight").unwrap();
    assert_eq!(q4k.shape(), [2, 256], "row-major shape: rows of 256 values");
    assert_eq!(main.get("test.string").unwrap().as_str(), Some("héllo wörld ✓"));
    assert_eq!(main.get("test.u64").unwrap().as_u64(), Some((1 << 63) + 5));
}

/// Offsets of the header fields of the first tensor info in main.gguf.
fn first_tensor_info(bytes: &[u8]) -> usize {
    let file = GgufFile::parse(bytes).unwrap();
    // The infos follow the metadata; find the first name by its bytes.
    let name = file.tensors[0].name.as_bytes();
    let at = bytes.windows(name.len()).position(|w| w == name).unwrap();
    at - 8
}

#[test]
fn broken_files_are_refused_by_name() {
    let good = fixture("main.gguf");
    let parse = |bytes: &[u8]| GgufFile::parse(bytes).unwrap_err();

    let mut b = good.clone();
    b[..4].copy_from_slice(b"GGML");
    assert!(matches!(parse(&b), GgufError::NotGguf { .. }));
    assert_eq!(
        parse(b"PK\x03\x04 a zip").to_string(),
        "not a GGUF file: it starts with \"PK\\u{3}\\u{4}\", not \"GGUF\""
    );

    let mut b = good.clone();
    b[4..8].copy_from_slice(&1u32.to_le_bytes());
    let e = parse(&b);
    assert_eq!(e, GgufError::Version { version: 1 });
    assert!(e.to_string().contains("hint: version 1 files"), "{e}");
    b[4..8].copy_from_slice(&3u32.to_be_bytes());
    assert_eq!(parse(&b), GgufError::BigEndian { version: 3 });

    // A metadata count no file of this size can hold: refused before allocating.
    let mut b = good.clone();
    b[16..24].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(parse(&b), GgufError::Count { ref what, .. } if what == "the metadata"), "{}", parse(&b));

    // Cut in the tables: truncated, naming the field.
    let at = |needle: &[u8]| good.windows(needle.len()).position(|w| w == needle).unwrap();
    let e = parse(&good[..at(b"test.string") + 20]);
    assert!(matches!(e, GgufError::Truncated { .. }), "{e}");
    assert!(e.to_string().contains("the value of key `test.string`"), "{e}");
    let e = parse(&good[..at(b"q6_k.weight") + 3]);
    assert!(e.to_string().contains("the name of tensor 11"), "{e}");
    let info = first_tensor_info(&good);
    // Cut in the data: the tensors past the end are named.
    let e = parse(&good[..good.len() - 40]);
    assert!(e.to_string().contains("q6_k.weight") && e.to_string().contains("past the end"), "{e}");

    // The first tensor info: name, n_dims, dims, type, offset.
    let name_len = u64::from_le_bytes(good[info..info + 8].try_into().unwrap()) as usize;
    let n_dims_at = info + 8 + name_len;
    let type_at = n_dims_at + 4 + 2 * 8;
    let offset_at = type_at + 4;
    let mut b = good.clone();
    b[type_at..type_at + 4].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(parse(&b), GgufError::TensorType { tensor: "f32.weight".into(), id: 4 });
    let mut b = good.clone();
    b[n_dims_at..n_dims_at + 4].copy_from_slice(&5u32.to_le_bytes());
    assert!(matches!(parse(&b), GgufError::Dims { ref tensor, .. } if tensor == "f32.weight"));
    let mut b = good.clone();
    b[n_dims_at + 4..n_dims_at + 12].copy_from_slice(&0u64.to_le_bytes());
    assert!(parse(&b).to_string().contains("dimension 0 is 0"), "{}", parse(&b));
    let mut b = good.clone();
    b[offset_at..offset_at + 8].copy_from_slice(&4u64.to_le_bytes());
    assert!(parse(&b).to_string().contains("not a multiple of the alignment 32"), "{}", parse(&b));
    // Moved onto the second tensor's data: overlapping.
    let mut b = good.clone();
    b[offset_at..offset_at + 8].copy_from_slice(&96u64.to_le_bytes());
    let e = parse(&b);
    assert_eq!(e.to_string(), "tensor `f16.weight`: its data overlaps tensor `f32.weight`'s");
    // A Q8_0 row must be whole blocks of 32: its first dimension made 63.
    let q8 = at(b"q8_0.weight");
    let mut b = good.clone();
    b[q8 + 11 + 4..q8 + 11 + 12].copy_from_slice(&63u64.to_le_bytes());
    assert!(
        parse(&b).to_string().contains("blocks of 32 values along the first dimension, which is 63"),
        "{}",
        parse(&b)
    );
}

#[test]
fn alignment_must_be_a_power_of_two() {
    let good = fixture("aligned64.gguf");
    let file = GgufFile::parse(&good).unwrap();
    assert_eq!(file.alignment, 64);
    let key = b"general.alignment";
    let at = good.windows(key.len()).position(|w| w == key).unwrap() + key.len();
    // After the key: the type (u32 = 4) and the value.
    assert_eq!(&good[at..at + 4], &4u32.to_le_bytes());
    let mut b = good.clone();
    b[at + 4..at + 8].copy_from_slice(&48u32.to_le_bytes());
    assert_eq!(GgufFile::parse(&b).unwrap_err(), GgufError::Alignment { value: "48 (u32)".into() });
}

#[test]
fn random_mutations_are_refused_or_read_never_a_panic() {
    let cases: usize = std::env::var("WGRAPH_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let files = [fixture("main.gguf"), fixture("aligned64.gguf")];
    let mut rng = Rng(0x6767_7566);
    let (mut read, mut refused) = (0, 0);
    for case in 0..cases {
        let mut b = files[case % 2].clone();
        // Mostly the header and tables, where the structure is.
        let header = 1400.min(b.len());
        for _ in 0..1 + (rng.next_u64() % 4) {
            let i = (rng.next_u64() as usize) % if rng.next_u64().is_multiple_of(4) { b.len() } else { header };
            b[i] = match rng.next_u64() % 3 {
                0 => rng.next_u64() as u8,
                1 => 0xFF,
                _ => 0,
            };
        }
        if rng.next_u64().is_multiple_of(5) {
            b.truncate((rng.next_u64() as usize) % b.len());
        }
        match std::panic::catch_unwind(|| GgufFile::parse(&b)) {
            Ok(Ok(file)) => {
                read += 1;
                for t in &file.tensors {
                    assert!(t.start + t.bytes <= b.len() as u64, "case {case}: {} past the end", t.name);
                }
            }
            Ok(Err(e)) => {
                refused += 1;
                assert!(!e.to_string().is_empty());
            }
            Err(_) => panic!("case {case}: the reader panicked"),
        }
    }
    assert!(read > 0 && refused > 0, "{read} read, {refused} refused");
}
