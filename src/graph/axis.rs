//! Axes as users write them: negative values count from the end.

use super::error::ShapeError;

/// Resolves a possibly negative axis against a rank.
pub(crate) fn resolve_axis(axis: isize, rank: usize) -> Result<usize, ShapeError> {
    let r = rank as isize;
    let a = if axis < 0 { axis + r } else { axis };
    if (0..r).contains(&a) {
        Ok(a as usize)
    } else {
        Err(ShapeError::Axis { axis, rank })
    }
}
