//! How kernels read values as rgba32float textures (four consecutive
//! values of a row to a texel): the layout of an activation copied into one
//! before a dispatch, and of a weight uploaded as one.

use crate::graph::{Dim, NodeId};

/// An activation a kernel reads as a texture: `rows` rows of `cols`
/// values (the node's buffer, row-major), `fold` rows to a texture row, so
/// the texture is `fold * cols / 4` texels wide and `ceil(rows / fold)`
/// high. Folding keeps any row count within the device's texture side, and
/// the copy's rows at the 256-byte multiples buffer-to-texture copies need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextureCopy {
    /// The activation.
    pub node: NodeId,
    /// Its rows (all axes but the last, multiplied).
    pub rows: Dim,
    /// Values per row, a multiple of 4.
    pub cols: usize,
    /// Rows per texture row.
    pub fold: u32,
}

impl TextureCopy {
    /// The copy for `node` (`rows` x `cols`, row-major) on a device whose
    /// textures have at most `max_side` texels a side, if its rows fit.
    pub fn new(node: NodeId, rows: Dim, cols: usize, max_side: u32) -> Option<TextureCopy> {
        let texels = cols / 4;
        if !cols.is_multiple_of(4) || texels == 0 || texels > max_side as usize {
            return None;
        }
        // Texture rows in 256-byte multiples: whole rows of `unit` texels.
        let unit = 16 / gcd(texels, 16);
        let fold = (max_side as usize / (unit * texels)) * unit;
        (fold > 0).then_some(TextureCopy { node, rows, cols, fold: fold as u32 })
    }
}

/// Rows of a `rows x cols` f32 weight per texture row when it is uploaded
/// as a texture on a device whose textures are at most `max_side` texels a
/// side: one when it fits as it is, else as few as make its height fit
/// (an LLM's head of 32,000 rows). `None` when it cannot be one. The
/// compiler and the upload both call this, so they agree on the layout.
pub fn weight_fold(rows: usize, cols: usize, max_side: u32) -> Option<u32> {
    let (side, texels) = (max_side as usize, cols / 4);
    if side == 0 || !cols.is_multiple_of(4) || texels == 0 || rows == 0 {
        return None;
    }
    let fold = rows.div_ceil(side);
    (fold * texels <= side).then_some(fold as u32)
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
