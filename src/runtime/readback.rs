//! Waiting for staging buffers to map: the one place a run waits for the
//! GPU. A future that resolves when every `map_async` callback has fired,
//! so the same code serves native (where the device is polled until the
//! submission is done, which fires the callbacks) and the browser (where
//! the callbacks fire from the event loop and nothing may block).

use super::device::Device;
use super::error::RuntimeError;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

/// How long a run may take before it gives up waiting for the GPU.
#[cfg(not(target_arch = "wasm32"))]
const RUN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Default)]
struct Mapping {
    pending: usize,
    failure: Option<String>,
    waker: Option<Waker>,
}

/// Resolves once every buffer [`map_for_read`] asked for is mapped (or one failed).
struct Mapped(Arc<Mutex<Mapping>>);

impl Future for Mapped {
    type Output = Result<(), String>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(failure) = state.failure.take() {
            return Poll::Ready(Err(failure));
        }
        if state.pending == 0 {
            return Poll::Ready(Ok(()));
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// Maps `slices` of staging buffers that `submission` writes and waits
/// until they can be read; errors no scope captured are reported as this
/// run's (`what` names it).
pub(super) async fn map_for_read(
    device: &Device,
    submission: wgpu::SubmissionIndex,
    slices: Vec<wgpu::BufferSlice<'_>>,
    what: &str,
) -> Result<(), RuntimeError> {
    let state = Arc::new(Mutex::new(Mapping { pending: slices.len(), ..Default::default() }));
    for slice in slices {
        let state = state.clone();
        slice.map_async(wgpu::MapMode::Read, move |result| {
            let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
            s.pending -= 1;
            if let Err(e) = result {
                s.failure.get_or_insert_with(|| e.to_string());
            }
            if s.pending == 0 || s.failure.is_some() {
                if let Some(w) = s.waker.take() {
                    w.wake();
                }
            }
        });
    }
    wait_for(device, submission, what)?;
    Mapped(state).await.map_err(|detail| RuntimeError::Gpu { what: what.to_string(), detail })?;
    device.check_uncaptured(what)
}

/// Native: polls the device until `submission` is done, which runs the
/// mapping callbacks. The browser runs them from its event loop.
pub(super) fn wait_for(device: &Device, submission: wgpu::SubmissionIndex, what: &str) -> Result<(), RuntimeError> {
    #[cfg(not(target_arch = "wasm32"))]
    device
        .device
        .poll(wgpu::PollType::Wait { submission_index: Some(submission), timeout: Some(RUN_TIMEOUT) })
        .map_err(|e| match e {
            wgpu::PollError::Timeout => {
                RuntimeError::Timeout { what: what.to_string(), seconds: RUN_TIMEOUT.as_secs() }
            }
            other => RuntimeError::Gpu { what: what.to_string(), detail: other.to_string() },
        })?;
    #[cfg(target_arch = "wasm32")]
    let _ = (device, submission, what);
    Ok(())
}
