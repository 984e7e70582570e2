//! Deterministic pseudo-random data for the op table, without a device.

use crate::graph::Tensor;

/// Deterministic pseudo-random numbers (SplitMix64).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// One of the awkward sizes: 1, odd, not a multiple of any tile.
    pub fn size(&mut self) -> usize {
        [1, 2, 3, 5, 7, 13, 17, 33, 65][self.below(9)]
    }

    /// A tensor of `shape`, uniform in [lo, hi).
    pub fn floats(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        let n = shape.iter().product();
        sized(shape.to_vec(), (0..n).map(|_| self.uniform(lo, hi)).collect::<Vec<f32>>())
    }

    /// An i64 tensor of `shape`, uniform in `0..below`.
    pub fn ints(&mut self, shape: &[usize], below: usize) -> Tensor {
        let n = shape.iter().product();
        sized(shape.to_vec(), (0..n).map(|_| self.below(below) as i64).collect::<Vec<i64>>())
    }

    /// A bool tensor of `shape`, fair coin flips.
    pub fn bools(&mut self, shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        sized(shape.to_vec(), (0..n).map(|_| self.below(2) == 1).collect::<Vec<bool>>())
    }
}

/// A tensor of `shape` from data generated to its size (the generators'
/// invariant: `data` holds exactly `shape`'s element count).
pub(super) fn sized<T: crate::graph::Element>(shape: Vec<usize>, data: Vec<T>) -> Tensor {
    Tensor::new(shape, data).expect("generated data matches its shape")
}
