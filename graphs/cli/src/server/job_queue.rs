//! The handlers' end of a model thread's queue: jobs go in unless
//! `--max-queued` already wait (then 429), and the queue depth metric
//! counts them until the model thread takes them.

use super::api_error::ApiError;
use super::metrics::Metrics;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};

/// A bounded queue of jobs of type `J` for one model thread.
pub(crate) struct JobQueue<J> {
    tx: mpsc::Sender<J>,
    max_queued: usize,
    metrics: Arc<Metrics>,
}

impl<J> JobQueue<J> {
    pub(crate) fn new(tx: mpsc::Sender<J>, max_queued: usize, metrics: Arc<Metrics>) -> JobQueue<J> {
        JobQueue { tx, max_queued, metrics }
    }

    /// Queues `job`, or refuses it when `--max-queued` requests wait already.
    pub(crate) fn submit(&self, job: J) -> Result<(), ApiError> {
        let depth = &self.metrics.queue_depth;
        if depth.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            depth.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::queue_full(self.max_queued));
        }
        self.tx.send(job).map_err(|_| {
            depth.fetch_sub(1, Ordering::SeqCst);
            ApiError::unavailable("the model thread has stopped")
        })
    }
}
