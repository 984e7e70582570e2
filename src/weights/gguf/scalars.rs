//! The scalar fields of ggml's blocks.

/// The little-endian f16 at byte `at`, widened exactly (ggml's
/// `GGML_FP16_TO_FP32`). Like ggml's conversions, `half` quiets a
/// signalling NaN.
pub(super) fn f16_at(b: &[u8], at: usize) -> f32 {
    half::f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}
