//! Running jobs: each kind has its handler (`publish.rs`, `generate.rs`, `deliver.rs`,
//! `mail.rs`, `collect.rs`, `renditions.rs`), and
//! destinations that keep failing are held back by a circuit breaker (`breaker.rs`). A job is a
//! small JSON message naming what to do (`creo_core::jobs`), carried by `queue/`; its effects
//! are idempotent (a redelivered job finds its work done and does nothing twice).

pub mod breaker;
pub mod collect;
pub mod deliver;
pub mod generate;
pub mod mail;
pub mod publish;
pub mod renditions;

pub use creo_core::jobs::{Job, JobKind, Outcome};

/// Runs each kind of job with its handler.
pub struct Handlers {
    pub publisher: publish::Publisher,
    pub generator: generate::Generator,
    pub deliverer: deliver::Deliverer,
    pub mailer: mail::MailSender,
    pub collector: collect::Collector,
    pub renderer: renditions::Renderer,
}

impl Handlers {
    pub async fn run(&self, job: Job) -> Outcome {
        let started = std::time::Instant::now();
        let kind = match &job.kind {
            JobKind::Publish { .. } => "publish",
            JobKind::Generate { .. } => "generate",
            JobKind::Deliver { .. } => "deliver",
            JobKind::Mail { .. } => "mail",
            JobKind::CollectMetrics { .. } => "metrics",
            JobKind::PruneGeneration { .. } => "retention",
            JobKind::Renditions { .. } => "renditions",
        };
        let outcome = match &job.kind {
            JobKind::Publish { .. } => self.publisher.run(&job).await,
            JobKind::Generate { .. } => self.generator.run(&job).await,
            JobKind::Deliver { .. } => self.deliverer.run(&job).await,
            JobKind::Mail { .. } => self.mailer.run(&job).await,
            JobKind::CollectMetrics { .. } => self.collector.run(&job).await,
            JobKind::PruneGeneration { .. } => self.generator.prune(&job).await,
            JobKind::Renditions { .. } => self.renderer.run(&job).await,
        };
        metrics::histogram!("creo_job_seconds", "kind" => kind)
            .record(started.elapsed().as_secs_f64());
        outcome
    }
}
