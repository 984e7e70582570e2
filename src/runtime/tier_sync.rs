//! What the serving thread and the tuned tier's background share: when
//! the background may start (`StartGate`) and the sizes it tunes at
//! (`FirstSizes`).

use crate::graph::Bindings;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};

/// Holds the background back until the first result is out: its compile
/// would take one of the cores the first run needs, and a short process
/// (one `wgraph embed`) that ends right after its result would otherwise
/// wait at exit for the kernel being compiled (seconds on lavapipe).
/// Opened by the end of the first `run`, the second call of `current`
/// (its caller finished a run with the first), `wait_tuned`, or a drop.
#[derive(Default)]
pub(super) struct StartGate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl StartGate {
    pub(super) fn open(&self) {
        *self.open.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.opened.notify_all();
    }

    /// Waits until the gate opens; false once `cancelled`.
    pub(super) fn wait(&self, cancelled: &AtomicBool) -> bool {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        while !*open {
            open = self.opened.wait(open).unwrap_or_else(|p| p.into_inner());
        }
        !cancelled.load(Ordering::Relaxed)
    }
}

/// The sizes to tune at, handed to the background once: the second run's.
#[derive(Default)]
pub(crate) struct FirstSizes {
    /// Runs so far.
    pub(super) runs: std::sync::atomic::AtomicUsize,
    pub(super) bindings: Mutex<Option<Bindings>>,
    pub(super) given: Condvar,
    /// Set when someone waits for the tuned tier before any run gave
    /// sizes: the background then compiles without tuning.
    pub(super) released: AtomicBool,
}

impl FirstSizes {
    /// Waits for the first run's bindings; `None` once `cancelled` or
    /// released without them.
    pub(super) fn wait(&self, cancelled: &AtomicBool) -> Option<Bindings> {
        let mut slot = self.bindings.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(b) = slot.as_ref() {
                return Some(b.clone());
            }
            if cancelled.load(Ordering::Relaxed) || self.released.load(Ordering::Relaxed) {
                return None;
            }
            let timeout = std::time::Duration::from_millis(50);
            slot = self.given.wait_timeout(slot, timeout).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}
