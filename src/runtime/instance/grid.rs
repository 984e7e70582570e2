//! Workgroup counts per kernel at one set of sizes, and the sizes a
//! driver's loop limit refuses.

use crate::compile::{Grid, Program};
use crate::graph::{Bindings, Dim};
use crate::runtime::error::RuntimeError;

fn ceil_div(a: usize, b: u32) -> u64 {
    (a as u64).div_ceil(b as u64)
}

/// Workgroups for one kernel, or `None` when it writes nothing.
pub(super) fn grid(
    name: &str,
    g: &Grid,
    elements: &Dim,
    bindings: &Bindings,
    max_dim: u32,
) -> Result<Option<[u32; 3]>, RuntimeError> {
    if elements.eval(bindings).unwrap_or(0) == 0 {
        return Ok(None);
    }
    let eval = |d: &Dim| d.eval(bindings).unwrap_or(0);
    let too_large = |workgroups: u64| RuntimeError::GridTooLarge { kernel: name.to_string(), workgroups, max: max_dim };
    // A linear count of workgroups, folded into a 2-D grid past the limit.
    let fold = |wg: u64| {
        if wg <= max_dim as u64 {
            return Ok(Some([wg as u32, 1, 1]));
        }
        let y = wg.div_ceil(max_dim as u64);
        if y > max_dim as u64 {
            return Err(too_large(wg));
        }
        Ok(Some([max_dim, y as u32, 1]))
    };
    match g {
        Grid::Linear { items, per_group } => fold(ceil_div(eval(items), *per_group)),
        Grid::Blocks { items, per_group, times } => fold(ceil_div(eval(items), *per_group) * eval(times) as u64),
        Grid::Tiles { x, x_per, y, y_per, z } => {
            let (gx, gy, gz) = (ceil_div(eval(x), *x_per), ceil_div(eval(y), *y_per), eval(z) as u64);
            if gx > max_dim as u64 || gy > max_dim as u64 || gz > max_dim as u64 {
                return Err(too_large(gx * gy * gz));
            }
            Ok(Some([gx as u32, gy as u32, gz as u32]))
        }
    }
}

/// Refuses sizes at which a kernel would loop past the driver's `limit`.
pub(super) fn check_loops(
    program: &Program,
    bindings: &Bindings,
    limit: usize,
    driver: &str,
) -> Result<(), RuntimeError> {
    for k in &program.kernels {
        let Some(bound) = &k.loop_bound else { continue };
        let iterations = bound.iterations(bindings);
        if iterations > limit {
            return Err(RuntimeError::LoopLimit {
                kernel: k.name.clone(),
                iterations,
                limit,
                driver: if driver.is_empty() { "this driver".to_string() } else { driver.to_string() },
                hint: "split the product's shared axis (fewer tokens per batch, with gradient accumulation in training), or run on a GPU",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::grid;
    use crate::compile::Grid;
    use crate::graph::{Bindings, Dim};

    fn bindings(values: &[(&str, usize)]) -> Bindings {
        values.iter().map(|&(s, v)| (Dim::sym(s).symbols().into_iter().next().unwrap(), v)).collect()
    }

    #[test]
    fn blocks_are_exactly_the_blocks_of_every_entry_folded_past_the_limit() {
        let blocks = Grid::Blocks { items: Dim::sym("m"), per_group: 128, times: Dim::sym("bh") };
        let at = |m, bh, max| grid("attention", &blocks, &Dim::new(1), &bindings(&[("m", m), ("bh", bh)]), max);
        // 96 entries of 128 rows: one workgroup each, none left over.
        assert_eq!(at(128, 96, 65_535).unwrap(), Some([96, 1, 1]));
        // 1500 rows: ceil(1500 / 128) = 12 per entry.
        assert_eq!(at(1500, 6, 65_535).unwrap(), Some([72, 1, 1]));
        // Past the limit the count folds into rows of the grid, as `Linear` does.
        assert_eq!(at(129, 40_000, 65_535).unwrap(), Some([65_535, 2, 1]));
        assert!(at(128 * 70_000, 70_000, 65_535).is_err(), "more than max^2 workgroups is an error");
    }
}
