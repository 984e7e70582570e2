//! Dequantization of ggml blocks against the `gguf` package's
//! `gguf.quants.dequantize` (tests/fixtures/gguf/generate_blocks.py wrote
//! blocks.json): every value's f32 bits, so signed zeros and NaN payloads
//! count. Then blocks built by hand whose values are worked out from the
//! block layouts alone, and the typed errors.

mod common;

use serde_json::Value;
use wgraph::weights::gguf::{dequantize, DequantError, GgmlType};

/// Every type ggml defines, found through its GGUF number.
fn all_types() -> Vec<GgmlType> {
    (0..64).filter_map(GgmlType::from_id).collect()
}

fn type_named(name: &str) -> GgmlType {
    all_types().into_iter().find(|t| t.name() == name).unwrap_or_else(|| panic!("no ggml type {name}"))
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

fn bits(values: &[f32]) -> Vec<u32> {
    values.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn every_value_matches_the_gguf_package_bit_for_bit() {
    let text = std::fs::read_to_string(common::fixture("gguf/blocks.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let types = doc["types"].as_object().unwrap();
    let mut names: Vec<&str> = types.keys().map(String::as_str).collect();
    names.sort_unstable();
    let mut supported = GgmlType::supported_names();
    supported.sort_unstable();
    assert_eq!(names, supported, "blocks.json covers exactly the supported types");

    let mut checked = 0;
    for (name, cases) in types {
        let t = type_named(name);
        for case in cases.as_array().unwrap() {
            let label = format!("{name} case `{}`", case["case"].as_str().unwrap());
            assert_eq!(case["type"].as_str(), Some(name.as_str()), "{label}");
            let elements = case["elements"].as_u64().unwrap() as usize;
            let data = hex(case["data_hex"].as_str().unwrap());
            let want: Vec<u32> =
                case["f32_bits"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap() as u32).collect();
            assert_eq!(want.len(), elements, "{label}: fixture length");
            let got = dequantize(t, &data, elements).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert_eq!(got.len(), elements, "{label}: output length");
            for (i, (g, &w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    g.to_bits() == w,
                    "{label}, element {i} (block {}): got {g:e} ({:#010x}), the package has {:e} ({w:#010x})",
                    i as u64 / t.block_size(),
                    g.to_bits(),
                    f32::from_bits(w),
                );
            }
            checked += elements;
        }
    }
    assert!(checked > 10_000, "only {checked} values checked");
}

/// An f16's little-endian bytes.
fn h(v: f32) -> [u8; 2] {
    half::f16::from_f32(v).to_le_bytes()
}

#[test]
fn hand_built_float_values() {
    let f32s: Vec<u8> = [1.5f32, -0.0, f32::MIN_POSITIVE].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(bits(&dequantize(GgmlType::F32, &f32s, 3).unwrap()), bits(&[1.5, -0.0, f32::MIN_POSITIVE]));

    // 1, -2, the smallest subnormal, negative zero.
    let f16s = [0x00, 0x3C, 0x00, 0xC0, 0x01, 0x00, 0x00, 0x80];
    assert_eq!(bits(&dequantize(GgmlType::F16, &f16s, 4).unwrap()), bits(&[1.0, -2.0, 2f32.powi(-24), -0.0]));
    // A signalling NaN: ggml's conversions (table, F16C) quiet it, as
    // `half` does; numpy keeps it signalling (0x7f802000), which is why
    // blocks.json leaves these out.
    assert_eq!(dequantize(GgmlType::F16, &[0x01, 0x7C], 1).unwrap()[0].to_bits(), 0x7FC0_2000);

    // 1, -3, and a signalling NaN that ggml's plain shift keeps as it is.
    let bf16s = [0x80, 0x3F, 0x40, 0xC0, 0x81, 0x7F];
    let got = dequantize(GgmlType::BF16, &bf16s, 3).unwrap();
    assert_eq!(bits(&got), vec![1f32.to_bits(), (-3f32).to_bits(), 0x7F81_0000]);
}

#[test]
fn hand_built_q8_0_block() {
    // Scale 0.5, quants 1, -2, 127, -128, then zeros.
    let mut block = h(0.5).to_vec();
    block.extend([1i8, -2, 127, -128].map(|q| q as u8));
    block.resize(34, 0);
    let mut want = vec![0.5, -1.0, 63.5, -64.0];
    want.resize(32, 0.0);
    assert_eq!(dequantize(GgmlType::Q8_0, &block, 32).unwrap(), want);
}

/// Sixteen bytes whose low nibbles count up 0..16 and high nibbles down.
fn nibble_ramp() -> Vec<u8> {
    (0..16u8).map(|j| j | ((15 - j) << 4)).collect()
}

#[test]
fn hand_built_q4_blocks() {
    // Q4_0: scale 2, quants stored with an offset of 8; the first 16 values
    // are the low nibbles, the next 16 the high ones.
    let block = [h(2.0).as_slice(), &nibble_ramp()].concat();
    let want: Vec<f32> = (0..16).map(|j| (j - 8) as f32 * 2.0).chain((0..16).map(|j| (7 - j) as f32 * 2.0)).collect();
    assert_eq!(dequantize(GgmlType::Q4_0, &block, 32).unwrap(), want);
    assert_eq!((want[0], want[31]), (-16.0, -16.0));

    // Q4_1: scale 0.5 and minimum -1, quants unsigned.
    let block = [h(0.5).as_slice(), &h(-1.0), &nibble_ramp()].concat();
    let want: Vec<f32> =
        (0..16).map(|j| j as f32 * 0.5 - 1.0).chain((0..16).map(|j| (15 - j) as f32 * 0.5 - 1.0)).collect();
    assert_eq!(dequantize(GgmlType::Q4_1, &block, 32).unwrap(), want);
    assert_eq!((want[0], want[15], want[16]), (-1.0, 6.5, 6.5));
}

#[test]
fn hand_built_q5_blocks() {
    // Both nibbles of byte j are j; the fifth bits are set for the second
    // sixteen values only (Q5_0) or the first sixteen only (Q5_1).
    let nibbles: Vec<u8> = (0..16u8).map(|j| j | (j << 4)).collect();
    let block = [h(1.0).as_slice(), &0xFFFF_0000u32.to_le_bytes(), &nibbles].concat();
    let want: Vec<f32> = (0..16).map(|j| (j - 16) as f32).chain((0..16).map(|j| j as f32)).collect();
    assert_eq!(dequantize(GgmlType::Q5_0, &block, 32).unwrap(), want);

    let block = [h(1.0).as_slice(), &h(0.25), &0x0000_FFFFu32.to_le_bytes(), &nibbles].concat();
    let want: Vec<f32> = (0..16).map(|j| j as f32 + 16.25).chain((0..16).map(|j| j as f32 + 0.25)).collect();
    assert_eq!(dequantize(GgmlType::Q5_1, &block, 32).unwrap(), want);
}

/// Q4_K/Q5_K's twelve scale bytes for sub-block scales 1..=7, 63 and
/// minimums 0..=6, 63: six bits each, the first four sub-blocks' in the low
/// bits of bytes 0..8, the last four's low nibbles in bytes 8..12 and top
/// two bits in the top bits of bytes 0..8.
const K_SCALES: [u8; 12] = [1, 2, 3, 4 | 0xC0, 0, 1, 2, 3 | 0xC0, 5 | 4 << 4, 6 | 5 << 4, 7 | 6 << 4, 0xFF];
const K_SC: [f32; 8] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 63.0];
const K_MIN: [f32; 8] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 63.0];

#[test]
fn hand_built_q4_k_block() {
    // d 1, dmin 0.5; sub-blocks pair up over 32 bytes, the even one in the
    // low nibbles; quant l of an even sub-block is l % 16, of an odd one
    // 15 - l % 16.
    let qs: Vec<u8> = (0..128u8).map(|i| (i % 16) | ((15 - i % 16) << 4)).collect();
    let block = [h(1.0).as_slice(), &h(0.5), &K_SCALES, &qs].concat();
    let got = dequantize(GgmlType::Q4_K, &block, 256).unwrap();
    for (i, &v) in got.iter().enumerate() {
        let (s, l) = (i / 32, (i % 32) as f32 % 16.0);
        let q = if s % 2 == 0 { l } else { 15.0 - l };
        assert_eq!(v, K_SC[s] * q - 0.5 * K_MIN[s], "value {i}");
    }
    assert_eq!((got[0], got[32], got[255]), (0.0, 29.5, -31.5));
}

#[test]
fn hand_built_q5_k_block() {
    // Nibbles all zero; bit s of high-bit byte l is value l of sub-block s,
    // and byte l has only bit l % 8 set, so value l of sub-block s has quant
    // 16 when l % 8 == s and 0 otherwise.
    let qh: Vec<u8> = (0..32).map(|l| 1 << (l % 8)).collect();
    let block = [h(1.0).as_slice(), &h(0.5), &K_SCALES, &qh, &[0u8; 128]].concat();
    let got = dequantize(GgmlType::Q5_K, &block, 256).unwrap();
    for (i, &v) in got.iter().enumerate() {
        let (s, l) = (i / 32, i % 32);
        let q = if l % 8 == s { 16.0 } else { 0.0 };
        assert_eq!(v, K_SC[s] * q - 0.5 * K_MIN[s], "value {i}");
    }
    assert_eq!((got[0], got[33], got[34], got[255]), (16.0, 31.5, -0.5, 976.5));
}

#[test]
fn hand_built_q6_k_block() {
    // All bits zero is quant -32 everywhere; byte scales -8..8 one per 16
    // values; d 0.25. Each half of the block splits into four groups of 32
    // values: group g takes nibble byte 32 * (g % 2) + l, its low nibble for
    // the first two groups and its high one for the others, and bits 2g and
    // 2g + 1 of high-bit byte l. Changed quants, one per group:
    // value 0 (group 0, l 0): low nibble 15, high bits 3, quant 31;
    // value 35 (group 1, l 3): low nibble 5, quant -27;
    // value 66 (group 2, l 2): low nibble 10, quant -22;
    // value 97 (group 3, l 1): low nibble 15, quant -17;
    // value 229 (second half, group 3, l 5): high bits 2, quant 0.
    let mut ql = [0u8; 128];
    let mut qh = [0u8; 64];
    ql[0] = 0x0F;
    qh[0] = 0b11;
    ql[32 + 3] = 0x05;
    ql[2] = 0xA0;
    ql[32 + 1] = 0xF0;
    qh[32 + 5] = 0b1000_0000;
    let scales: Vec<u8> = (0..16).map(|k| (k as i8 - 8) as u8).collect();
    let block = [ql.as_slice(), &qh, &scales, &h(0.25)].concat();
    let got = dequantize(GgmlType::Q6_K, &block, 256).unwrap();
    for (i, &v) in got.iter().enumerate() {
        let q = match i {
            0 => 31.0,
            35 => -27.0,
            66 => -22.0,
            97 => -17.0,
            229 => 0.0,
            _ => -32.0,
        };
        assert_eq!(v.to_bits(), (0.25 * ((i / 16) as f32 - 8.0) * q).to_bits(), "value {i}");
    }
    assert_eq!((got[0], got[35], got[66], got[97], got[229], got[255]), (-62.0, 40.5, 22.0, 8.5, 0.0, -56.0));
}

#[test]
fn unsupported_types_are_refused_by_name() {
    for t in all_types().into_iter().filter(|t| !t.is_supported()) {
        let data = vec![0u8; t.type_size() as usize];
        let err = dequantize(t, &data, t.block_size() as usize).unwrap_err();
        assert_eq!(err, DequantError::Unsupported { ggml_type: t, supported: GgmlType::supported_names() });
    }
    let message = dequantize(GgmlType::IQ4_NL, &[0; 18], 32).unwrap_err().to_string();
    assert!(message.contains("IQ4_NL") && message.contains("Q4_K") && message.contains("BF16"), "{message}");
    let message = dequantize(GgmlType::Q2_K, &[0; 84], 256).unwrap_err().to_string();
    assert!(message.contains("Q2_K") && message.contains("Q6_K"), "{message}");
}

#[test]
fn wrong_lengths_are_refused_with_expected_and_got() {
    let err = dequantize(GgmlType::Q8_0, &[0; 67], 64).unwrap_err();
    assert_eq!(err, DequantError::Length { ggml_type: GgmlType::Q8_0, elements: 64, expected: 68, got: 67 });
    assert!(err.to_string().contains("68") && err.to_string().contains("67"), "{err}");
    let err = dequantize(GgmlType::F16, &[0; 6], 2).unwrap_err();
    assert_eq!(err, DequantError::Length { ggml_type: GgmlType::F16, elements: 2, expected: 4, got: 6 });
    let err = dequantize(GgmlType::Q4_K, &[0; 144], 100).unwrap_err();
    assert_eq!(err, DequantError::PartialBlock { ggml_type: GgmlType::Q4_K, expected_multiple_of: 256, got: 100 });
    assert!(err.to_string().contains("256") && err.to_string().contains("100"), "{err}");
    // A huge count cannot overflow the byte arithmetic.
    let err = dequantize(GgmlType::F32, &[0; 4], usize::MAX).unwrap_err();
    assert!(matches!(err, DequantError::Length { expected: usize::MAX, got: 4, .. }), "{err:?}");
    assert_eq!(dequantize(GgmlType::Q6_K, &[], 0).unwrap(), Vec::<f32>::new());
}
