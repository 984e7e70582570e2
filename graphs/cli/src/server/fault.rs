//! `--debug-fail-batch N` (hidden): the model thread fails its N-th batch
//! (an encoder batch, or a decoder round over every busy slot) as a device
//! error would, so that tests can check that the requests in that batch get
//! a 500 and the server goes on serving.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts batches and fails the chosen one.
pub(crate) struct InjectedFault {
    at: Option<u64>,
    seen: AtomicU64,
}

impl InjectedFault {
    pub(crate) fn new(at: Option<u64>) -> InjectedFault {
        InjectedFault { at, seen: AtomicU64::new(0) }
    }

    /// Counts one batch; an error when it is the one to fail.
    pub(crate) fn check(&self) -> Result<(), String> {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        match self.at {
            Some(at) if at == n => Err(format!("batch {n} failed on purpose (--debug-fail-batch {at})")),
            _ => Ok(()),
        }
    }
}
