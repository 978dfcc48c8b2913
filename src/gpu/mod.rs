//! The supervised inference pool. Models live in the models folder (`manifest.rs`); each loaded
//! version has a bounded queue and one worker thread owning its `ort` session (`worker.rs`,
//! `engine.rs`), started, restarted and retired by the `InferenceSupervisor` actor
//! (`supervisor.rs`). `Pool` is the handle requests use: it routes each request to a version
//! (by the manifests' weights, for canaries), refuses it when the queue is full, and waits for
//! the answer until its deadline.

pub mod engine;
pub mod manifest;
pub mod supervisor;
pub mod worker;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use serde::Serialize;
use tokio::sync::oneshot;

use manifest::{ModelSpec, Task};
use worker::Job;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InferError {
    #[error("AI is unavailable on this node: {0}")]
    Unavailable(String),
    #[error("no model named {0}")]
    UnknownModel(String),
    #[error("the model's queue is full; retry shortly")]
    Busy,
    #[error("the request's deadline passed before it ran")]
    Deadline,
    #[error("the model's worker stopped while running this request; retry")]
    WorkerCrashed,
    #[error("invalid input: {0}")]
    BadInput(String),
}

#[derive(Debug, Clone)]
pub enum Input {
    Text(String),
    Row(Vec<f32>),
}

/// One answer: the vector, and which version produced it.
#[derive(Debug, Clone, Serialize)]
pub struct Output {
    pub vector: Vec<f32>,
    pub version: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Loading = 0,
    Ready = 1,
    /// Crashed repeatedly (backing off) or cannot load.
    Unhealthy = 2,
}

/// Faults a test can inject into a model's worker (with `fault_injection` on).
#[derive(Debug, Default)]
pub struct Faults {
    /// Batches that panic, from the next one on.
    pub panic_batches: AtomicU32,
    /// Every batch first sleeps this long.
    pub delay_ms: AtomicU64,
}

impl Faults {
    fn before_batch(&self) {
        let delay = self.delay_ms.load(Ordering::Relaxed);
        if delay > 0 {
            std::thread::sleep(Duration::from_millis(delay));
        }
        let armed = self
            .panic_batches
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if armed {
            panic!("injected worker fault");
        }
    }
}

/// One loaded version: its queue, its health, and how its worker is doing.
pub struct VersionSlot {
    pub spec: ModelSpec,
    pub device: &'static str,
    tx: Sender<Job>,
    rx: Receiver<Job>,
    health: AtomicU8,
    reason: Mutex<Option<String>>,
    pub restarts: AtomicU64,
    /// Requests answered, and requests dropped before running (caller gone or deadline passed).
    pub served: AtomicU64,
    pub dropped: AtomicU64,
    /// Set when the version is unloaded or replaced: its worker finishes and is not restarted.
    pub retired: AtomicBool,
    pub faults: Arc<Faults>,
}

impl VersionSlot {
    pub fn new(spec: ModelSpec, device: &'static str, faults: Arc<Faults>) -> VersionSlot {
        let (tx, rx) = crossbeam_channel::bounded(spec.manifest.queue);
        VersionSlot {
            spec,
            device,
            tx,
            rx,
            health: AtomicU8::new(Health::Loading as u8),
            reason: Mutex::new(None),
            restarts: AtomicU64::new(0),
            served: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            retired: AtomicBool::new(false),
            faults,
        }
    }

    pub fn health(&self) -> Health {
        match self.health.load(Ordering::Relaxed) {
            0 => Health::Loading,
            1 => Health::Ready,
            _ => Health::Unhealthy,
        }
    }

    pub fn set_health(&self, health: Health, reason: Option<String>) {
        let previous = self.health.swap(health as u8, Ordering::Relaxed);
        if previous != health as u8 || reason.is_some() {
            *self.reason.lock().expect("reason lock") = reason;
            metrics::gauge!("creo_model_healthy", &self.labels()).set(
                if health == Health::Unhealthy {
                    0.0
                } else {
                    1.0
                },
            );
        }
    }

    pub fn labels(&self) -> [(&'static str, String); 3] {
        [
            ("model", self.spec.name.clone()),
            ("version", self.spec.version.to_string()),
            ("device", self.device.to_string()),
        ]
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelStatus {
    pub model: String,
    pub version: u32,
    pub task: &'static str,
    pub device: &'static str,
    pub weight: u32,
    pub health: Health,
    pub reason: Option<String>,
    pub queued: usize,
    pub restarts: u64,
    pub served: u64,
    pub dropped: u64,
}

#[derive(Default)]
pub struct Shared {
    /// Model name → its loaded versions.
    pub models: RwLock<HashMap<String, Vec<Arc<VersionSlot>>>>,
    /// Why the pool cannot run anything (no ONNX Runtime); `None` when it can.
    pub unavailable: RwLock<Option<String>>,
    /// Per-model fault switches, kept across reloads.
    pub faults: Mutex<HashMap<String, Arc<Faults>>>,
}

/// The handle requests use. Cheap to clone.
#[derive(Clone, Default)]
pub struct Pool {
    pub shared: Arc<Shared>,
}

impl Pool {
    /// The version a request goes to: weighted by the manifests among healthy versions.
    fn route(&self, model: &str) -> Result<Arc<VersionSlot>, InferError> {
        if let Some(reason) = self.shared.unavailable.read().expect("pool lock").clone() {
            return Err(InferError::Unavailable(reason));
        }
        let models = self.shared.models.read().expect("pool lock");
        let versions = models
            .get(model)
            .ok_or_else(|| InferError::UnknownModel(model.to_string()))?;
        let live: Vec<&Arc<VersionSlot>> = versions
            .iter()
            .filter(|v| v.health() != Health::Unhealthy && v.spec.manifest.weight > 0)
            .collect();
        let total: u32 = live.iter().map(|v| v.spec.manifest.weight).sum();
        if total == 0 {
            let reason = versions
                .iter()
                .find_map(|v| v.reason.lock().expect("reason lock").clone())
                .unwrap_or_else(|| "no healthy version".into());
            return Err(InferError::Unavailable(format!("{model}: {reason}")));
        }
        let mut pick = rand::random_range(0..total);
        for v in live {
            if pick < v.spec.manifest.weight {
                return Ok(v.clone());
            }
            pick -= v.spec.manifest.weight;
        }
        unreachable!("the weights add up to the total")
    }

    /// Runs `inputs` through `model` (all on one version, so they are comparable), each input
    /// queued as its own request and batched with whatever else is waiting. Fails as a whole
    /// if any input fails.
    pub async fn infer(
        &self,
        model: &str,
        inputs: Vec<Input>,
        timeout: Duration,
    ) -> Result<Vec<Output>, InferError> {
        let slot = self.route(model)?;
        let labels = slot.labels();
        let started = Instant::now();
        let deadline = started + timeout;
        let mut waiting = Vec::with_capacity(inputs.len());
        for input in inputs {
            check_input(&slot.spec, &input)?;
            let (reply, rx) = oneshot::channel();
            let job = Job {
                input,
                enqueued: Instant::now(),
                deadline,
                reply,
            };
            match slot.tx.try_send(job) {
                Ok(()) => waiting.push(rx),
                Err(TrySendError::Full(_)) => {
                    metrics::counter!("creo_inference_rejected_total", &labels).increment(1);
                    return Err(InferError::Busy);
                }
                Err(TrySendError::Disconnected(_)) => return Err(InferError::WorkerCrashed),
            }
        }
        metrics::gauge!("creo_inference_queue_depth", &labels).set(slot.tx.len() as f64);
        let version = slot.spec.version;
        let mut out = Vec::with_capacity(waiting.len());
        for rx in waiting {
            let answer = match tokio::time::timeout_at(deadline.into(), rx).await {
                Err(_) => Err(InferError::Deadline),
                Ok(Err(_)) => Err(InferError::WorkerCrashed),
                Ok(Ok(result)) => result,
            };
            out.push(Output {
                vector: answer?,
                version,
            });
        }
        metrics::histogram!("creo_inference_seconds", &labels)
            .record(started.elapsed().as_secs_f64());
        Ok(out)
    }

    pub fn status(&self) -> Vec<ModelStatus> {
        let models = self.shared.models.read().expect("pool lock");
        let mut all: Vec<ModelStatus> = models
            .values()
            .flatten()
            .map(|v| ModelStatus {
                model: v.spec.name.clone(),
                version: v.spec.version,
                task: match v.spec.manifest.task {
                    Task::Dense => "dense",
                    Task::Embedding => "embedding",
                },
                device: v.device,
                weight: v.spec.manifest.weight,
                health: v.health(),
                reason: v.reason.lock().expect("reason lock").clone(),
                queued: v.tx.len(),
                restarts: v.restarts.load(Ordering::Relaxed),
                served: v.served.load(Ordering::Relaxed),
                dropped: v.dropped.load(Ordering::Relaxed),
            })
            .collect();
        all.sort_by(|a, b| (&a.model, a.version).cmp(&(&b.model, b.version)));
        all
    }

    /// Whether some version of `model` is loaded (healthy or not).
    pub fn has_model(&self, model: &str) -> bool {
        self.shared
            .models
            .read()
            .expect("pool lock")
            .contains_key(model)
    }

    pub fn unavailable(&self) -> Option<String> {
        self.shared.unavailable.read().expect("pool lock").clone()
    }

    /// The fault switches of `model` (tests, with `fault_injection` on).
    pub fn faults(&self, model: &str) -> Arc<Faults> {
        self.shared
            .faults
            .lock()
            .expect("faults lock")
            .entry(model.to_string())
            .or_default()
            .clone()
    }
}

fn check_input(spec: &ModelSpec, input: &Input) -> Result<(), InferError> {
    match (spec.manifest.task, input) {
        (Task::Dense, Input::Row(r)) if Some(r.len()) == spec.manifest.width => Ok(()),
        (Task::Dense, Input::Row(r)) => Err(InferError::BadInput(format!(
            "{} takes rows of {} floats, not {}",
            spec.name,
            spec.manifest.width.unwrap_or(0),
            r.len()
        ))),
        (Task::Embedding, Input::Text(t)) if t.len() <= 64 * 1024 => Ok(()),
        (Task::Embedding, Input::Text(_)) => {
            Err(InferError::BadInput("texts are at most 64 KiB".into()))
        }
        _ => Err(InferError::BadInput(format!(
            "{} does not take this kind of input",
            spec.name
        ))),
    }
}
