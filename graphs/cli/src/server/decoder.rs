//! The decoder's model thread: `--parallel` slots, each a conversation
//! with its own KV cache over shared weights. Every round it admits queued
//! requests into free slots (a new request joins at the next step), then
//! advances every slot by one round: the slots past their prompt by one
//! token, the new ones through their prompt, together or apart as
//! [`SlotDecoder::advance`] finds faster. A request goes to the free slot
//! whose cache already holds the longest start of its prompt and resumes
//! after it (see `slot_contents`). Text goes to each request's channel as
//! it is made; a request whose channel is closed (the client went away)
//! frees its slot at once.

use super::api_error::ApiError;
use super::fault::InjectedFault;
use super::job_queue::JobQueue;
use super::metrics::Metrics;
use super::slot_contents::SlotContents;
use super::stop_strings::StopStrings;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tokenizers::Tokenizer;
use tokio::sync::mpsc::UnboundedSender;
use wgraph_models::chat::TextStream;
use wgraph_models::decode_slots::{SlotDecoder, SlotError, SlotInput};

/// One generation request.
pub(crate) struct DecodeJob {
    pub(crate) prompt: Vec<i64>,
    pub(crate) max_new_tokens: usize,
    pub(crate) stop: Vec<String>,
    pub(crate) events: UnboundedSender<DecodeEvent>,
}

/// Why a generation ended (OpenAI's `finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Finish {
    /// An end-of-turn token or a stop string.
    Stop,
    /// `max_tokens` or the context.
    Length,
}

impl Finish {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
        }
    }
}

/// What a request hears from the model thread, in order.
#[derive(Debug)]
pub(crate) enum DecodeEvent {
    Text(String),
    Done { finish: Finish, usage: Usage },
    Failed(ApiError),
}

/// A generation's token counts (OpenAI's `usage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) prompt_tokens: usize,
    pub(crate) completion_tokens: usize,
    /// Prompt tokens whose rows the slot already held (not computed).
    pub(crate) cached_tokens: usize,
}

impl Usage {
    /// OpenAI's `usage` object, cached prompt tokens under
    /// `prompt_tokens_details.cached_tokens` as OpenAI reports them.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        })
    }
}

/// The handlers' end of the queue.
pub(crate) type DecoderQueue = JobQueue<DecodeJob>;

/// A conversation in a slot.
struct Active<'t> {
    slot: usize,
    job: DecodeJob,
    /// The token to feed next (None before the prefill).
    next: Option<i64>,
    /// Positions the slot's cache holds (before the prefill: the prompt's
    /// start it kept from its previous conversation).
    past: usize,
    /// Prompt tokens the slot held when the conversation took it.
    cached: usize,
    generated: usize,
    text: TextStream<'t>,
    stops: StopStrings,
}

/// Pacing for tests of cancellation and shutdown (`--debug-step-delay-ms`).
pub(crate) struct DecoderSettings {
    pub(crate) stop_ids: Vec<i64>,
    pub(crate) step_delay: Duration,
    /// The batched step to fail on purpose (`--debug-fail-batch`).
    pub(crate) fail_batch: Option<u64>,
}

/// The model thread's loop, until every sender is gone and no slot is busy.
pub(crate) fn serve_slots(
    decoder: &SlotDecoder,
    tokenizer: &Tokenizer,
    rx: mpsc::Receiver<DecodeJob>,
    settings: &DecoderSettings,
    metrics: &Metrics,
    mut contents: SlotContents,
) {
    let mut active: Vec<Active<'_>> = Vec::new();
    let mut open = true;
    let fault = InjectedFault::new(settings.fail_batch);
    // The warm-up's rounds are not the server's.
    let packed_before = decoder.packed_rounds();
    while open || !active.is_empty() {
        // Admit queued requests into free slots; wait for one when idle.
        while open && active.len() < decoder.slots() {
            let job =
                if active.is_empty() { rx.recv().map_err(|_| mpsc::TryRecvError::Disconnected) } else { rx.try_recv() };
            match job {
                Ok(job) => {
                    metrics.queue_depth.fetch_sub(1, Ordering::SeqCst);
                    let free = (0..decoder.slots()).filter(|s| active.iter().all(|a| a.slot != *s));
                    let (slot, past) = contents.best_free(free, &job.prompt).unwrap_or((0, 0));
                    contents.start(slot, past);
                    metrics.reused_prompt_tokens.fetch_add(past as u64, Ordering::Relaxed);
                    metrics.busy_slots.fetch_add(1, Ordering::SeqCst);
                    let stops = StopStrings::new(job.stop.clone());
                    active.push(Active {
                        slot,
                        job,
                        next: None,
                        past,
                        cached: past,
                        generated: 0,
                        text: TextStream::new(tokenizer),
                        stops,
                    });
                }
                Err(mpsc::TryRecvError::Empty) => break,
                Err(mpsc::TryRecvError::Disconnected) => open = false,
            }
        }
        drop_gone(&mut active, metrics);
        // Before any round: a slot freed since the last one keeps its rows.
        contents.keep_free(decoder, (0..decoder.slots()).filter(|s| active.iter().all(|a| a.slot != *s)));
        let started = Instant::now();
        let busy = active.len();
        let tokens = next_tokens(decoder, &active, &fault);
        let mut tokens = tokens.into_iter();
        active.retain_mut(|a| match tokens.next() {
            Some(token) => {
                match (&token, a.next) {
                    (Err(_), _) => contents.forget(a.slot),
                    (Ok(_), None) => contents.fed(a.slot, &a.job.prompt[a.past..]),
                    (Ok(_), Some(fed)) => contents.fed(a.slot, &[fed]),
                }
                take_token(decoder, a, token, settings, metrics)
            }
            None => false,
        });
        if busy > 0 {
            metrics.batch(busy, started.elapsed());
        }
        metrics.busy_slots.store(active.len(), Ordering::SeqCst);
        metrics.packed_rounds.store(decoder.packed_rounds() - packed_before, Ordering::Relaxed);
        metrics.activation_bytes.store(decoder.held_activation_bytes(), Ordering::Relaxed);
        if !settings.step_delay.is_zero() && !active.is_empty() {
            std::thread::sleep(settings.step_delay);
        }
    }
}

/// Frees the slots whose client went away.
fn drop_gone(active: &mut Vec<Active<'_>>, metrics: &Metrics) {
    active.retain(|a| {
        let gone = a.job.events.is_closed();
        if gone {
            metrics.cancelled.fetch_add(1, Ordering::Relaxed);
        }
        !gone
    });
}

/// The next token of every slot in `active` (in order): one round of the
/// decoder over the slots past their prompt (one token each) and the new
/// ones (their prompt after what their slot kept), which it runs as one
/// program or as a batched step and prefills. A failure fails the
/// requests of that round.
fn next_tokens(decoder: &SlotDecoder, active: &[Active<'_>], fault: &InjectedFault) -> Vec<Result<i64, String>> {
    if active.is_empty() {
        return Vec::new();
    }
    let fed: Vec<[i64; 1]> = active.iter().map(|a| [a.next.unwrap_or(0)]).collect();
    let inputs: Vec<SlotInput<'_>> = active
        .iter()
        .zip(&fed)
        .map(|(a, token)| match a.next {
            Some(_) => SlotInput { slot: a.slot, tokens: token, past: a.past },
            None => SlotInput { slot: a.slot, tokens: &a.job.prompt[a.past..], past: a.past },
        })
        .collect();
    match fault.check().and_then(|()| guarded(|| decoder.advance(&inputs))) {
        Ok(tokens) => tokens.into_iter().map(Ok).collect(),
        Err(e) => vec![Err(e); inputs.len()],
    }
}

/// `run`'s result, a panic in the model as an error.
fn guarded<T>(run: impl FnOnce() -> Result<T, SlotError>) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(|| run().map_err(|e| e.to_string())))
        .unwrap_or_else(|_| Err("the model panicked".to_string()))
}

/// Hands `a` its next token; false when its generation is over (slot freed).
fn take_token(
    decoder: &SlotDecoder,
    a: &mut Active<'_>,
    result: Result<i64, String>,
    settings: &DecoderSettings,
    metrics: &Metrics,
) -> bool {
    let token = match result {
        Ok(t) => t,
        Err(e) => {
            metrics.model_errors.fetch_add(1, Ordering::Relaxed);
            let _ = a.job.events.send(DecodeEvent::Failed(ApiError::internal(format!("the device failed: {e}"))));
            return false;
        }
    };
    a.past = a.next.map_or(a.job.prompt.len(), |_| a.past + 1);
    if a.next.is_none() {
        metrics.input_tokens.fetch_add(a.job.prompt.len() as u64, Ordering::Relaxed);
    }
    a.next = Some(token);
    a.generated += 1;
    metrics.generated_tokens.fetch_add(1, Ordering::Relaxed);
    let done = |a: &Active<'_>, finish: Finish| {
        let usage =
            Usage { prompt_tokens: a.job.prompt.len(), completion_tokens: a.generated, cached_tokens: a.cached };
        let _ = a.job.events.send(DecodeEvent::Done { finish, usage });
    };
    if settings.stop_ids.contains(&token) {
        let rest = a.stops.finish();
        send_text(a, rest);
        done(a, Finish::Stop);
        return false;
    }
    let piece = match a.text.push(token) {
        Ok(p) => p,
        Err(e) => {
            let _ = a.job.events.send(DecodeEvent::Failed(ApiError::internal(e)));
            return false;
        }
    };
    let released = a.stops.push(&piece);
    send_text(a, released.text);
    if released.stopped {
        done(a, Finish::Stop);
        return false;
    }
    // Prompt and answer together fit the context (as `Generator` counts).
    if a.generated >= a.job.max_new_tokens || a.job.prompt.len() + a.generated >= decoder.context() {
        let rest = a.stops.finish();
        send_text(a, rest);
        done(a, Finish::Length);
        return false;
    }
    true
}

fn send_text(a: &Active<'_>, text: String) {
    if !text.is_empty() {
        let _ = a.job.events.send(DecodeEvent::Text(text));
    }
}
