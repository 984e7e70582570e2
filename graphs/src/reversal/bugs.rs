//! The training bug zoo: mistakes people make when they write a small
//! transformer, each one leaving a model that runs and does not learn.

use std::fmt;
use std::str::FromStr;

/// One deliberate mistake (`examples/reversal.rs --bug NAME`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Bug {
    /// The positional embedding is declared but never added to the tokens.
    NoPositions,
    /// A decoder's causal mask on a task that needs the whole input.
    CausalMask,
    /// The token embedding is left out of the optimizer.
    FrozenEmbedding,
    /// Learning rate 1e-7.
    TinyLr,
    /// Learning rate 10.
    HugeLr,
    /// Feed-forward biases initialised to -10 with ReLU: every unit dead.
    DeadRelu,
}

impl Bug {
    /// Every bug, in the order the docs list them.
    pub const ALL: [Bug; 6] =
        [Bug::NoPositions, Bug::CausalMask, Bug::FrozenEmbedding, Bug::TinyLr, Bug::HugeLr, Bug::DeadRelu];

    /// The flag value (`no-positions`).
    pub fn name(self) -> &'static str {
        match self {
            Bug::NoPositions => "no-positions",
            Bug::CausalMask => "causal-mask",
            Bug::FrozenEmbedding => "frozen-embedding",
            Bug::TinyLr => "tiny-lr",
            Bug::HugeLr => "huge-lr",
            Bug::DeadRelu => "dead-relu",
        }
    }

    /// The learning rate the bug imposes, if it is about the learning rate.
    pub fn learning_rate(self) -> Option<f64> {
        match self {
            Bug::TinyLr => Some(1e-7),
            Bug::HugeLr => Some(10.0),
            Bug::NoPositions | Bug::CausalMask | Bug::FrozenEmbedding | Bug::DeadRelu => None,
        }
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Bug {
    type Err = String;

    fn from_str(s: &str) -> Result<Bug, String> {
        Bug::ALL.into_iter().find(|b| b.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
            format!("unknown bug `{s}`; one of: {}", names.join(", "))
        })
    }
}
