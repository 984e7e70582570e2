//! Small statistics the doctor keeps per parameter.

use crate::graph::Tensor;

/// One parameter's figures over the doctor run.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamStats {
    /// The parameter.
    pub name: String,
    /// Median 2-norm of its gradient.
    pub grad_norm: f64,
    /// Median `|update| / |weight|` per step.
    pub update_ratio: f64,
    /// 2-norm of the weight at the end.
    pub weight_norm: f64,
}

/// The 2-norm of `v`.
pub fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// The median (the lower of the middle two), 0 for nothing.
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[(s.len() - 1) / 2]
}

/// Which rows of a gradient were zero at every step so far (a row is the
/// last axis; a 1-D gradient is one row per element).
#[derive(Debug, Clone)]
pub struct ZeroRows {
    row_len: usize,
    zero: Vec<bool>,
}

impl ZeroRows {
    /// Starts from one step's gradient.
    pub fn new(g: &Tensor) -> ZeroRows {
        let row_len = if g.shape().len() >= 2 { g.shape().last().copied().unwrap_or(1).max(1) } else { 1 };
        let mut z = ZeroRows { row_len, zero: vec![true; g.numel() / row_len] };
        z.update(g);
        z
    }

    /// Folds in another step's gradient.
    pub fn update(&mut self, g: &Tensor) {
        for (i, v) in g.to_f64_vec().iter().enumerate() {
            if *v != 0.0 {
                if let Some(z) = self.zero.get_mut(i / self.row_len) {
                    *z = false;
                }
            }
        }
    }

    /// Whether every element was zero at every step.
    pub fn all_zero(&self) -> bool {
        self.zero.iter().all(|z| *z)
    }

    /// `(zero rows, rows)` when some but not all rows of a matrix were zero.
    pub fn zero_rows(&self) -> Option<(usize, usize)> {
        let zero = self.zero.iter().filter(|z| **z).count();
        (self.row_len > 1 && zero > 0 && zero < self.zero.len()).then_some((zero, self.zero.len()))
    }
}
