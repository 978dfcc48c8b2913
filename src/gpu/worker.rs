//! A model worker: one thread per model version, owning its `ort` session. It takes the first
//! waiting request, gathers more until `max_batch` or until the first has waited `max_wait_ms`
//! (only under load: at low load a lone request runs at once),
//! drops requests whose caller gave up (cancelled) or whose deadline passed, and runs the rest as
//! one batch. A panic or a failing session ends the thread; the supervisor starts a new one, and
//! the requests it held fail with a retryable error (their reply channels are dropped).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::RecvTimeoutError;
use tokio::sync::oneshot;

use super::engine::{Batch, Engine};
use super::{Health, InferError, Input, VersionSlot};

pub struct Job {
    pub input: Input,
    pub enqueued: Instant,
    pub deadline: Instant,
    pub reply: oneshot::Sender<Result<Vec<f32>, InferError>>,
}

/// Why a worker thread ended: the supervisor restarts it unless it was retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Retired,
    Crashed(String),
}

/// Runs until the slot is retired, or until a panic or a session failure ends it.
pub fn run(slot: Arc<VersionSlot>, env: ort::environment::Environment, threads: usize) -> Exit {
    let spec = &slot.spec;
    let mut engine = match Engine::load(spec, &env, slot.device, threads) {
        Ok(e) => e,
        Err(e) => return Exit::Crashed(e),
    };
    slot.set_health(Health::Ready, None);
    let max_wait = Duration::from_millis(spec.manifest.max_wait_ms);
    let max_batch = spec.manifest.max_batch;
    let labels = slot.labels();
    let mut last_batch = 0;
    loop {
        let first = match slot.rx.recv_timeout(Duration::from_millis(250)) {
            Ok(job) => job,
            Err(RecvTimeoutError::Timeout) if slot.retired.load(Ordering::Relaxed) => {
                return Exit::Retired
            }
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return Exit::Retired,
        };
        // Under load (the last batch had company) the first request waits up to max_wait for
        // others; a lone request at low load runs at once instead of paying that wait.
        let until = if last_batch > 1 {
            first.enqueued + max_wait
        } else {
            Instant::now()
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match slot.rx.recv_deadline(until) {
                Ok(job) => batch.push(job),
                Err(_) => match slot.rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                },
            }
        }
        last_batch = batch.len();
        metrics::gauge!("creo_inference_queue_depth", &labels).set(slot.rx.len() as f64);
        let now = Instant::now();
        let gathered = batch.len();
        batch.retain_mut(|job| {
            // The deadline first: a caller whose deadline passed has also stopped waiting.
            if job.deadline <= now {
                metrics::counter!("creo_inference_dropped_total", "reason" => "deadline")
                    .increment(1);
                false
            } else if job.reply.is_closed() {
                metrics::counter!("creo_inference_dropped_total", "reason" => "cancelled")
                    .increment(1);
                false
            } else {
                true
            }
        });
        slot.dropped
            .fetch_add((gathered - batch.len()) as u64, Ordering::Relaxed);
        if batch.is_empty() {
            continue;
        }
        slot.faults.before_batch();
        let started = Instant::now();
        let result = match batch.first().map(|j| &j.input) {
            Some(Input::Text(_)) => engine.run(Batch::Texts(
                batch
                    .iter()
                    .map(|j| match &j.input {
                        Input::Text(t) => t.as_str(),
                        Input::Row(_) => "",
                    })
                    .collect(),
            )),
            _ => engine.run(Batch::Rows(
                batch
                    .iter()
                    .map(|j| match &j.input {
                        Input::Row(r) => r.as_slice(),
                        Input::Text(_) => &[][..],
                    })
                    .collect(),
            )),
        };
        metrics::histogram!("creo_inference_batch_size", &labels).record(batch.len() as f64);
        metrics::histogram!("creo_inference_run_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        match result {
            Ok(vectors) if vectors.len() == batch.len() => {
                slot.set_health(Health::Ready, None);
                slot.served.fetch_add(batch.len() as u64, Ordering::Relaxed);
                for (job, vector) in batch.into_iter().zip(vectors) {
                    let _ = job.reply.send(Ok(vector));
                }
            }
            Ok(vectors) => {
                let e = format!(
                    "the model answered {} rows for {}",
                    vectors.len(),
                    batch.len()
                );
                return Exit::Crashed(e);
            }
            // The session failed: fail this batch (retryably: dropped replies) and restart.
            Err(e) => return Exit::Crashed(e),
        }
    }
}
