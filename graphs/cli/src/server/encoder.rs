//! Dynamic batching for encoders: requests wait in one queue; the model
//! thread takes what arrives within `--max-wait-ms` of the first (up to
//! `--max-batch-tokens`), sorts every text by length so a batch pads
//! little, runs batches of at most `--max-batch-tokens` padded tokens, and
//! answers each request with its own rows in its own order.

use super::api_error::ApiError;
use super::encoder_model::EncoderModel;
use super::fault::InjectedFault;
use super::job_queue::JobQueue;
use super::metrics::Metrics;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use wgraph_models::text::TextInput;

/// One request: its texts and their token counts (after truncation).
pub(crate) struct EncodeJob {
    pub(crate) texts: Vec<TextInput>,
    pub(crate) tokens: Vec<usize>,
    pub(crate) reply: oneshot::Sender<Result<Vec<Vec<f32>>, ApiError>>,
}

/// The handlers' end of the queue.
pub(crate) type EncoderQueue = JobQueue<EncodeJob>;

/// The model thread's loop: until every sender is gone (shutdown).
/// `delay` holds each batch before it runs (`--debug-step-delay-ms`);
/// `fault` fails one on purpose (`--debug-fail-batch`).
pub(crate) fn serve_batches(
    model: &EncoderModel,
    rx: mpsc::Receiver<EncodeJob>,
    (max_batch_tokens, max_wait): (usize, Duration),
    (delay, fault): (Duration, &InjectedFault),
    metrics: &Metrics,
) {
    while let Ok(first) = rx.recv() {
        metrics.queue_depth.fetch_sub(1, Ordering::SeqCst);
        let mut jobs = vec![first];
        let mut tokens: usize = jobs[0].tokens.iter().sum();
        let deadline = Instant::now() + max_wait;
        while tokens < max_batch_tokens {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else { break };
            match rx.recv_timeout(left) {
                Ok(job) => {
                    metrics.queue_depth.fetch_sub(1, Ordering::SeqCst);
                    tokens += job.tokens.iter().sum::<usize>();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        // A client that went away is not computed for.
        jobs.retain(|j| !j.reply.is_closed());
        answer(model, jobs, max_batch_tokens, fault, metrics);
    }
}

/// Runs the texts of `jobs` in length-sorted batches and replies to each job.
fn answer(
    model: &EncoderModel,
    jobs: Vec<EncodeJob>,
    max_batch_tokens: usize,
    fault: &InjectedFault,
    metrics: &Metrics,
) {
    // (job, text) of every text, shortest first.
    let mut items: Vec<(usize, usize, usize)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(j, job)| job.tokens.iter().enumerate().map(move |(t, &n)| (j, t, n)))
        .collect();
    items.sort_by_key(|&(_, _, n)| n);
    let mut rows: Vec<Vec<Option<Vec<f32>>>> = jobs.iter().map(|j| vec![None; j.texts.len()]).collect();
    let mut failures: Vec<Option<ApiError>> = vec![None; jobs.len()];
    for batch in length_groups(&items, max_batch_tokens) {
        let texts: Vec<TextInput> = batch.iter().map(|&(j, t, _)| jobs[j].texts[t].clone()).collect();
        let started = Instant::now();
        // A panic in the model is a failed batch, not a dead server.
        let result = fault.check().and_then(|()| {
            catch_unwind(AssertUnwindSafe(|| model.run(&texts)))
                .unwrap_or_else(|_| Err("the model panicked on this batch".into()))
        });
        metrics.batch(texts.len(), started.elapsed());
        metrics.activation_bytes.store(model.held_activation_bytes(), Ordering::Relaxed);
        match result {
            Ok(vectors) if vectors.len() == batch.len() => {
                for (&(j, t, n), v) in batch.iter().zip(vectors) {
                    rows[j][t] = Some(v);
                    metrics.input_tokens.fetch_add(n as u64, Ordering::Relaxed);
                }
            }
            other => {
                metrics.model_errors.fetch_add(1, Ordering::Relaxed);
                let detail = match other {
                    Err(e) => e,
                    Ok(v) => format!("the model gave {} rows for {} texts", v.len(), batch.len()),
                };
                for &(j, _, _) in batch {
                    failures[j] = Some(ApiError::internal(format!("the device failed this batch: {detail}")));
                }
            }
        }
    }
    for ((job, rows), failure) in jobs.into_iter().zip(rows).zip(failures) {
        let reply = match failure {
            Some(e) => Err(e),
            None => Ok(rows.into_iter().flatten().collect()),
        };
        // The client may have gone meanwhile; nobody to tell.
        let _ = job.reply.send(reply);
    }
}

/// Consecutive runs of `items` (sorted by length) whose padded size
/// (count × longest) stays within `max_batch_tokens`; one item at least.
fn length_groups<T: Copy>(items: &[(T, T, usize)], max_batch_tokens: usize) -> Vec<&[(T, T, usize)]> {
    let mut groups = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let mut end = start + 1;
        while end < items.len() && (end + 1 - start) * items[end].2.max(1) <= max_batch_tokens {
            end += 1;
        }
        groups.push(&items[start..end]);
        start = end;
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::length_groups;

    #[test]
    fn groups_stay_within_the_padded_token_budget() {
        let items: Vec<(usize, usize, usize)> = [1, 2, 2, 3, 8, 9, 30].iter().map(|&n| (0, 0, n)).collect();
        let sizes: Vec<Vec<usize>> =
            length_groups(&items, 16).iter().map(|g| g.iter().map(|i| i.2).collect()).collect();
        // 4 × 3 = 12 ≤ 16, then 8 alone (2 × 9 = 18 > 16), 9 alone, 30 alone (over, but never dropped).
        assert_eq!(sizes, vec![vec![1, 2, 2, 3], vec![8], vec![9], vec![30]]);
    }
}
