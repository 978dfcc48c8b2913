//! `InferenceSupervisor`: keeps the pool's workers matching the models folder and alive. It
//! rescans the folder every `model_scan_ms` (new versions load, changed ones reload, removed
//! ones drain and stop), starts one worker thread per version, and restarts a worker that
//! panicked or whose session failed: at once the first time (100 ms), then backing off, and
//! after three crashes within a minute the version is marked unhealthy (in `/readyz` and
//! `creo_model_healthy`) until a batch succeeds again.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;

use super::engine::{resolve_device, runtime};
use super::manifest::{scan, ModelSpec};
use super::worker::{self, Exit};
use super::{Health, Pool, VersionSlot};

const CRASH_WINDOW: Duration = Duration::from_secs(60);
const UNHEALTHY_AFTER: usize = 3;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

pub struct InferenceSupervisor {
    pool: Pool,
    models: PathBuf,
    library: PathBuf,
    threads: usize,
    scan_every: Duration,
    env: Option<ort::environment::Environment>,
    loaded: HashMap<(String, u32), Arc<VersionSlot>>,
    crashes: HashMap<(String, u32), VecDeque<Instant>>,
    refused: HashMap<PathBuf, String>,
}

impl InferenceSupervisor {
    pub fn new(
        pool: Pool,
        models: PathBuf,
        library: PathBuf,
        threads: usize,
        scan_every: Duration,
    ) -> Self {
        InferenceSupervisor {
            pool,
            models,
            library,
            threads,
            scan_every,
            env: None,
            loaded: HashMap::new(),
            crashes: HashMap::new(),
            refused: HashMap::new(),
        }
    }

    fn rescan(&mut self, ctx: &mut Context<Self>) {
        if self.env.is_none() {
            match runtime(&self.library) {
                Ok(env) => {
                    tracing::info!(library = %self.library.display(), "ONNX Runtime loaded");
                    *self.pool.shared.unavailable.write().expect("pool lock") = None;
                    self.env = Some(env);
                }
                Err(reason) => {
                    let mut unavailable = self.pool.shared.unavailable.write().expect("pool lock");
                    if unavailable.as_deref() != Some(reason.as_str()) {
                        tracing::warn!(%reason, "AI endpoints are unavailable");
                        *unavailable = Some(reason);
                    }
                    return;
                }
            }
        }
        let (found, refused) = scan(&self.models);
        for (dir, why) in refused {
            if self.refused.get(&dir) != Some(&why) {
                tracing::error!(dir = %dir.display(), reason = %why, "model refused");
                self.refused.insert(dir, why);
            }
        }
        let mut seen = Vec::with_capacity(found.len());
        for spec in found {
            let key = spec.key();
            seen.push(key.clone());
            match self.loaded.get(&key) {
                Some(slot) if slot.spec.fingerprint == spec.fingerprint => {}
                previous => {
                    if let Some(old) = previous {
                        tracing::info!(model = %key.0, version = key.1, "model changed on disk: reloading");
                        old.retired.store(true, Ordering::Relaxed);
                    }
                    self.load(spec, ctx);
                }
            }
        }
        let gone: Vec<(String, u32)> = self
            .loaded
            .keys()
            .filter(|k| !seen.contains(k))
            .cloned()
            .collect();
        for key in gone {
            tracing::info!(model = %key.0, version = key.1, "model removed from disk: unloading");
            if let Some(old) = self.loaded.remove(&key) {
                old.retired.store(true, Ordering::Relaxed);
            }
        }
        self.publish();
    }

    fn load(&mut self, spec: ModelSpec, ctx: &mut Context<Self>) {
        let key = spec.key();
        let faults = self.pool.faults(&spec.name);
        let slot = match resolve_device(spec.manifest.device) {
            Ok(device) => {
                let slot = Arc::new(VersionSlot::new(spec, device, faults));
                self.spawn_worker(slot.clone(), ctx);
                slot
            }
            Err(reason) => {
                tracing::error!(model = %key.0, version = key.1, %reason, "model cannot run here");
                let slot = Arc::new(VersionSlot::new(spec, "none", faults));
                slot.set_health(Health::Unhealthy, Some(reason));
                slot
            }
        };
        tracing::info!(model = %key.0, version = key.1, device = slot.device, weight = slot.spec.manifest.weight, "model loading");
        self.crashes.remove(&key);
        self.loaded.insert(key, slot);
    }

    /// Makes the current set of versions what requests see.
    fn publish(&self) {
        let mut models: HashMap<String, Vec<Arc<VersionSlot>>> = HashMap::new();
        for slot in self.loaded.values() {
            models
                .entry(slot.spec.name.clone())
                .or_default()
                .push(slot.clone());
        }
        for versions in models.values_mut() {
            versions.sort_by_key(|v| v.spec.version);
        }
        *self.pool.shared.models.write().expect("pool lock") = models;
    }

    fn spawn_worker(&self, slot: Arc<VersionSlot>, ctx: &mut Context<Self>) {
        let Some(env) = self.env.clone() else { return };
        let (addr, threads) = (ctx.address(), self.threads);
        let name = format!("creo-model-{}-{}", slot.spec.name, slot.spec.version);
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                worker::run(slot.clone(), env, threads)
            }));
            let exit = outcome.unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".into());
                Exit::Crashed(format!("worker panicked: {what}"))
            });
            addr.do_send(WorkerExited { slot, exit });
        });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "could not start a model worker thread");
        }
    }
}

impl Actor for InferenceSupervisor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.rescan(ctx);
        ctx.run_interval(self.scan_every, |act, ctx| act.rescan(ctx));
    }
}

#[derive(Message)]
#[rtype(result = "()")]
struct WorkerExited {
    slot: Arc<VersionSlot>,
    exit: Exit,
}

impl Handler<WorkerExited> for InferenceSupervisor {
    type Result = ();

    fn handle(&mut self, msg: WorkerExited, ctx: &mut Context<Self>) {
        let slot = msg.slot;
        let key = slot.spec.key();
        let current = self.loaded.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot));
        let Exit::Crashed(reason) = msg.exit else {
            return;
        };
        if slot.retired.load(Ordering::Relaxed) || !current {
            return;
        }
        slot.restarts.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("creo_inference_restarts_total", &slot.labels()).increment(1);
        let history = self.crashes.entry(key.clone()).or_default();
        let now = Instant::now();
        history.push_back(now);
        while history.front().is_some_and(|t| now - *t > CRASH_WINDOW) {
            history.pop_front();
        }
        let recent = history.len();
        let backoff = if recent <= 1 {
            Duration::from_millis(100)
        } else {
            (Duration::from_millis(250) * 2u32.pow(recent.min(8) as u32 - 1)).min(MAX_BACKOFF)
        };
        let health = if recent >= UNHEALTHY_AFTER {
            Health::Unhealthy
        } else {
            Health::Loading
        };
        tracing::error!(model = %key.0, version = key.1, %reason, restart_in = ?backoff, crashes_this_minute = recent, "model worker stopped; restarting");
        slot.set_health(health, Some(reason));
        ctx.run_later(backoff, move |act, ctx| {
            let still_current = act.loaded.get(&key).is_some_and(|s| Arc::ptr_eq(s, &slot));
            if still_current && !slot.retired.load(Ordering::Relaxed) {
                act.spawn_worker(slot, ctx);
            }
        });
    }
}
