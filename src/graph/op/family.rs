//! What kind of computation an op is, and which kind of stored value a
//! source op is.

/// What kind of computation an op is, for the code that treats a whole
/// family alike (fusion, kernel grouping, the dumps). Code that treats a
/// few ops specially (strided views, lowering to kernels) matches every
/// variant without a wildcard instead, so a new op cannot be forgotten there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpFamily {
    /// Graph inputs, weights and constants: values held in buffers.
    Source,
    /// Values computed from their coordinates alone (`range`, `band_mask`).
    Generator,
    /// One output element from the same element of each (broadcast) operand.
    Elementwise,
    /// Index remapping: each output element is one operand element
    /// (`permute`, `reshape`, `expand`, `slice`, `concat`, `gather`).
    Movement,
    /// `[..., m, k] x [..., k, n]`.
    MatMul,
    /// Sliding-window contraction (`conv1d`).
    Convolution,
    /// Reads a whole row along one axis: reductions, scans, softmax, norms.
    Row,
    /// Sums operand elements into the output positions an index tensor
    /// picks (`scatter_add`): every output element reads every index.
    Scatter,
    /// Fused attention: each output row reads whole rows of three operands
    /// (strided views of buffers, like a matmul's) and a mask.
    Attention,
}

impl OpFamily {
    /// Whether a kernel can compute this op per output element inside an
    /// index expression (and so fuse it into its readers).
    pub fn is_fusible(self) -> bool {
        match self {
            OpFamily::Generator | OpFamily::Elementwise | OpFamily::Movement => true,
            OpFamily::Source
            | OpFamily::MatMul
            | OpFamily::Convolution
            | OpFamily::Row
            | OpFamily::Scatter
            | OpFamily::Attention => false,
        }
    }
}

/// Which kind of stored value a source op is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// A runtime input.
    Input,
    /// A checkpoint weight.
    Weight,
    /// A literal embedded in the graph.
    Constant,
}
