//! The task's data: random sequences from a seeded stream for training,
//! and held-out sequences from a separate stream, none of them seen in
//! training.

use std::collections::HashSet;
use wgraph::Tensor;

/// SplitMix64: small, fast, and the same on every platform.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), 53 bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// One batch: `tokens` and `targets` (the tokens reversed), i64 `[batch, seq_len]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub tokens: Tensor,
    pub targets: Tensor,
}

impl Batch {
    fn of(sequences: &[Vec<i64>]) -> Batch {
        let n = sequences.len();
        let len = sequences.first().map_or(0, Vec::len);
        let tokens: Vec<i64> = sequences.iter().flatten().copied().collect();
        let targets: Vec<i64> = sequences.iter().flat_map(|s| s.iter().rev().copied()).collect();
        Batch {
            tokens: Tensor::new([n, len], tokens)
                .unwrap_or_else(|_| Tensor::zeros(wgraph::DType::I64, [0, len]).expect("empty")),
            targets: Tensor::new([n, len], targets)
                .unwrap_or_else(|_| Tensor::zeros(wgraph::DType::I64, [0, len]).expect("empty")),
        }
    }

    /// The graph inputs.
    pub fn inputs(&self) -> Vec<(String, Tensor)> {
        vec![("tokens".into(), self.tokens.clone()), ("targets".into(), self.targets.clone())]
    }

    /// Sequences in the batch.
    pub fn len(&self) -> usize {
        self.tokens.shape().first().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Every training batch and the held-out set, drawn once from the seed.
#[derive(Debug, Clone)]
pub struct TaskData {
    pub train: Vec<Batch>,
    pub held_out: Batch,
}

impl TaskData {
    /// `steps` batches of `batch` training sequences from one stream, and
    /// `held_out` sequences from another, skipping any seen in training.
    pub fn new(seq_len: usize, vocab: usize, seed: u64, steps: usize, batch: usize, held_out: usize) -> TaskData {
        let mut train_rng = SplitMix::new(seed.wrapping_mul(2).wrapping_add(1));
        let mut held_rng = SplitMix::new(seed.wrapping_mul(2).wrapping_add(0xDEAD_BEEF));
        let draw = |rng: &mut SplitMix| (0..seq_len).map(|_| rng.below(vocab) as i64).collect::<Vec<i64>>();
        let mut seen = HashSet::new();
        let mut train = Vec::with_capacity(steps);
        for _ in 0..steps {
            let sequences: Vec<Vec<i64>> = (0..batch).map(|_| draw(&mut train_rng)).collect();
            seen.extend(sequences.iter().cloned());
            train.push(Batch::of(&sequences));
        }
        let mut held = Vec::with_capacity(held_out);
        let mut held_seen = HashSet::new();
        // Tiny spaces (vocab^len below the request) cannot give enough unseen
        // sequences: stop after a bounded number of draws.
        let mut budget = held_out * 100 + 1000;
        while held.len() < held_out && budget > 0 {
            budget -= 1;
            let s = draw(&mut held_rng);
            if !seen.contains(&s) && held_seen.insert(s.clone()) {
                held.push(s);
            }
        }
        TaskData { train, held_out: Batch::of(&held) }
    }
}
