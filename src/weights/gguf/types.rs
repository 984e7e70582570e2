//! ggml's tensor types as GGUF numbers them: block geometry for every type
//! a file may hold (so any file's layout can be checked), and which of them
//! wgraph reads.

/// A ggml tensor type. Values are blocks of `block_size()` elements stored
/// in `type_size()` bytes (1 and the element size for plain types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types, missing_docs)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
    Q8_K,
    IQ2_XXS,
    IQ2_XS,
    IQ3_XXS,
    IQ1_S,
    IQ4_NL,
    IQ3_S,
    IQ2_S,
    IQ4_XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1_M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
}

/// `(type, GGUF id, name, elements per block, bytes per block)`.
const TABLE: &[(GgmlType, u32, &str, u64, u64)] = &[
    (GgmlType::F32, 0, "F32", 1, 4),
    (GgmlType::F16, 1, "F16", 1, 2),
    (GgmlType::Q4_0, 2, "Q4_0", 32, 18),
    (GgmlType::Q4_1, 3, "Q4_1", 32, 20),
    (GgmlType::Q5_0, 6, "Q5_0", 32, 22),
    (GgmlType::Q5_1, 7, "Q5_1", 32, 24),
    (GgmlType::Q8_0, 8, "Q8_0", 32, 34),
    (GgmlType::Q8_1, 9, "Q8_1", 32, 40),
    (GgmlType::Q2_K, 10, "Q2_K", 256, 84),
    (GgmlType::Q3_K, 11, "Q3_K", 256, 110),
    (GgmlType::Q4_K, 12, "Q4_K", 256, 144),
    (GgmlType::Q5_K, 13, "Q5_K", 256, 176),
    (GgmlType::Q6_K, 14, "Q6_K", 256, 210),
    (GgmlType::Q8_K, 15, "Q8_K", 256, 292),
    (GgmlType::IQ2_XXS, 16, "IQ2_XXS", 256, 66),
    (GgmlType::IQ2_XS, 17, "IQ2_XS", 256, 74),
    (GgmlType::IQ3_XXS, 18, "IQ3_XXS", 256, 98),
    (GgmlType::IQ1_S, 19, "IQ1_S", 256, 50),
    (GgmlType::IQ4_NL, 20, "IQ4_NL", 32, 18),
    (GgmlType::IQ3_S, 21, "IQ3_S", 256, 110),
    (GgmlType::IQ2_S, 22, "IQ2_S", 256, 82),
    (GgmlType::IQ4_XS, 23, "IQ4_XS", 256, 136),
    (GgmlType::I8, 24, "I8", 1, 1),
    (GgmlType::I16, 25, "I16", 1, 2),
    (GgmlType::I32, 26, "I32", 1, 4),
    (GgmlType::I64, 27, "I64", 1, 8),
    (GgmlType::F64, 28, "F64", 1, 8),
    (GgmlType::IQ1_M, 29, "IQ1_M", 256, 56),
    (GgmlType::BF16, 30, "BF16", 1, 2),
    (GgmlType::TQ1_0, 34, "TQ1_0", 256, 54),
    (GgmlType::TQ2_0, 35, "TQ2_0", 256, 66),
    (GgmlType::MXFP4, 39, "MXFP4", 32, 17),
];

impl GgmlType {
    /// The type GGUF numbers `id`, if ggml has one.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        TABLE.iter().find(|row| row.1 == id).map(|row| row.0)
    }

    fn row(self) -> &'static (GgmlType, u32, &'static str, u64, u64) {
        TABLE.iter().find(|row| row.0 == self).expect("every GgmlType has a row in TABLE")
    }

    /// GGUF's number for the type.
    pub fn id(self) -> u32 {
        self.row().1
    }

    /// ggml's name (`Q4_K`).
    pub fn name(self) -> &'static str {
        self.row().2
    }

    /// Elements per block.
    pub fn block_size(self) -> u64 {
        self.row().3
    }

    /// Bytes per block.
    pub fn type_size(self) -> u64 {
        self.row().4
    }

    /// Whether wgraph reads tensors of this type: the float types and the
    /// quantizations llama.cpp's common files use.
    pub fn is_supported(self) -> bool {
        use GgmlType::*;
        matches!(self, F32 | F16 | BF16 | Q8_0 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q4_K | Q5_K | Q6_K)
    }

    /// The block format kernels read this type in, for the quantized types
    /// wgraph reads (`None` for plain and unsupported types).
    pub fn quant(self) -> Option<crate::graph::Quant> {
        use crate::graph::Quant;
        Some(match self {
            GgmlType::Q8_0 => Quant::Q8_0,
            GgmlType::Q4_0 => Quant::Q4_0,
            GgmlType::Q4_1 => Quant::Q4_1,
            GgmlType::Q5_0 => Quant::Q5_0,
            GgmlType::Q5_1 => Quant::Q5_1,
            GgmlType::Q4_K => Quant::Q4_K,
            GgmlType::Q5_K => Quant::Q5_K,
            GgmlType::Q6_K => Quant::Q6_K,
            _ => return None,
        })
    }

    /// The names of the types wgraph reads, for messages.
    pub fn supported_names() -> Vec<&'static str> {
        TABLE.iter().filter(|row| row.0.is_supported()).map(|row| row.2).collect()
    }
}

impl From<crate::graph::Quant> for GgmlType {
    fn from(q: crate::graph::Quant) -> GgmlType {
        use crate::graph::Quant;
        match q {
            Quant::Q8_0 => GgmlType::Q8_0,
            Quant::Q4_0 => GgmlType::Q4_0,
            Quant::Q4_1 => GgmlType::Q4_1,
            Quant::Q5_0 => GgmlType::Q5_0,
            Quant::Q5_1 => GgmlType::Q5_1,
            Quant::Q4_K => GgmlType::Q4_K,
            Quant::Q5_K => GgmlType::Q5_K,
            Quant::Q6_K => GgmlType::Q6_K,
        }
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_block_geometry_matches_ggml() {
        for &(t, id, name, block, bytes) in TABLE {
            assert_eq!(GgmlType::from_id(id), Some(t), "{name}");
            assert_eq!((t.block_size(), t.type_size(), t.name()), (block, bytes, name));
        }
        // Hand-checked against ggml's block structs: Q4_K is a half scale,
        // a half min, 12 bytes of 6-bit scales and 128 bytes of nibbles.
        assert_eq!(GgmlType::Q4_K.type_size(), 2 + 2 + 12 + 128);
        assert_eq!(GgmlType::Q6_K.type_size(), 128 + 64 + 16 + 2);
        assert_eq!(GgmlType::from_id(4), None, "Q4_2 was removed from ggml");
        assert_eq!(GgmlType::supported_names().len(), 11);
    }
}
