//! RabbitMQ with `lapin`, done on purpose:
//! - durable queues and persistent messages (delivery mode 2), published with publisher confirms:
//!   `enqueue` returns once the broker has the job on disk;
//! - delayed jobs and retries wait in delay queues, one per step (250 ms … 1 h) with a fixed
//!   message TTL that dead-letters into the work queue: a queue with one TTL never blocks a short
//!   delay behind a long one. A job that comes out early waits in the next step down;
//! - consumers take `prefetch` jobs at a time and acknowledge each only after its effect is
//!   stored; a worker that dies mid-job leaves it unacknowledged, and the broker delivers it to
//!   another;
//! - a job that fails for good, or keeps failing `max_attempts` times, is rejected without
//!   requeue: the work queue's dead-letter exchange moves it to the dead-letter queue.
//!
//! Queue names start with `{prefix}.` (`amqp_prefix`), so several deployments (and tests) can
//! share one broker.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions,
    ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

use creo_core::jobs::{Job, Outcome};

use super::backoff_ms;
use crate::store::now_ms;

/// The delay steps, in milliseconds.
const DELAYS: [u64; 6] = [250, 1_000, 10_000, 60_000, 600_000, 3_600_000];

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("RabbitMQ: {0}")]
    Broker(#[from] lapin::Error),
    #[error("RabbitMQ did not confirm the job")]
    NotConfirmed,
}

pub struct RabbitQueue {
    channel: Channel,
    prefix: String,
    _connection: Connection,
}

impl RabbitQueue {
    /// Connects and declares the topology (idempotent).
    pub async fn connect(url: &str, prefix: &str) -> Result<Arc<RabbitQueue>, QueueError> {
        let properties = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio);
        let connection = Connection::connect(url, properties).await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let queue = RabbitQueue {
            channel,
            prefix: prefix.to_string(),
            _connection: connection,
        };
        queue.declare().await?;
        Ok(Arc::new(queue))
    }

    fn work(&self) -> String {
        format!("{}.jobs", self.prefix)
    }

    pub fn dead(&self) -> String {
        format!("{}.jobs.dead", self.prefix)
    }

    fn delay(&self, ms: u64) -> String {
        format!("{}.jobs.delay.{ms}", self.prefix)
    }

    async fn declare(&self) -> Result<(), QueueError> {
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let mut work_args = FieldTable::default();
        work_args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        work_args.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(self.dead().into()),
        );
        self.channel
            .queue_declare(&self.dead(), durable, FieldTable::default())
            .await?;
        self.channel
            .queue_declare(&self.work(), durable, work_args)
            .await?;
        for ms in DELAYS {
            let mut args = FieldTable::default();
            args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(ms as i64));
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString("".into()),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(self.work().into()),
            );
            self.channel
                .queue_declare(&self.delay(ms), durable, args)
                .await?;
        }
        Ok(())
    }

    /// Deletes this prefix's queues and what they hold (tests, or taking a deployment down).
    pub async fn delete_queues(&self) -> Result<(), QueueError> {
        let mut names = vec![self.work(), self.dead()];
        names.extend(DELAYS.iter().map(|ms| self.delay(*ms)));
        for name in names {
            self.channel
                .queue_delete(&name, lapin::options::QueueDeleteOptions::default())
                .await?;
        }
        Ok(())
    }

    /// Jobs waiting in the dead-letter queue.
    pub async fn dead_letters(&self) -> Result<u32, QueueError> {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = self
            .channel
            .queue_declare(&self.dead(), passive, FieldTable::default())
            .await?;
        Ok(queue.message_count())
    }

    /// Queues a job (in the delay step that fits its wait, or for now), confirmed by the broker.
    pub async fn enqueue(&self, job: &Job) -> Result<(), QueueError> {
        let wait = (job.not_before - now_ms()).max(0) as u64;
        // Short waits are served by the consumer (it holds the job until its time).
        let queue = if wait <= DELAYS[0] {
            self.work()
        } else {
            // The longest step that does not overshoot (the shortest for very short waits).
            let step = DELAYS
                .iter()
                .rev()
                .find(|d| **d <= wait)
                .copied()
                .unwrap_or(DELAYS[0]);
            self.delay(step)
        };
        let payload = serde_json::to_vec(job).expect("jobs serialise");
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(job.id.clone().into());
        let confirm = self
            .channel
            .basic_publish(
                "",
                &queue,
                BasicPublishOptions::default(),
                &payload,
                properties,
            )
            .await?
            .await?;
        if confirm.is_ack() {
            metrics::counter!("creo_jobs_enqueued_total").increment(1);
            Ok(())
        } else {
            Err(QueueError::NotConfirmed)
        }
    }

    /// Consumes jobs until the connection ends, `prefetch` at a time, running each with `run`.
    pub async fn consume<F, Fut>(
        self: Arc<Self>,
        prefetch: u16,
        max_attempts: u32,
        retry_base_ms: u64,
        run: F,
    ) -> Result<(), QueueError>
    where
        F: Fn(Job) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Outcome> + Send + 'static,
    {
        self.channel
            .basic_qos(prefetch.max(1), BasicQosOptions::default())
            .await?;
        let mut consumer = self
            .channel
            .basic_consume(
                &self.work(),
                &format!("creo-{}", std::process::id()),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let run = Arc::new(run);
        while let Some(delivery) = consumer.next().await {
            let delivery = delivery?;
            let (queue, run) = (self.clone(), run.clone());
            tokio::spawn(async move {
                let reject = BasicRejectOptions { requeue: false };
                let Ok(job) = serde_json::from_slice::<Job>(&delivery.data) else {
                    metrics::counter!("creo_jobs_total", "outcome" => "malformed").increment(1);
                    let _ = delivery.reject(reject).await;
                    return;
                };
                // Out early from a delay step: wait in the next one down, or here for the last
                // fraction of a step (never run before its time).
                let early = job.not_before - now_ms();
                if early > DELAYS[0] as i64 {
                    if queue.enqueue(&job).await.is_ok() {
                        let _ = delivery.ack(BasicAckOptions::default()).await;
                    }
                    return;
                }
                if early > 0 {
                    tokio::time::sleep(Duration::from_millis(early as u64)).await;
                }
                let outcome = run(job.clone()).await;
                metrics::counter!("creo_jobs_total", "outcome" => outcome.label()).increment(1);
                match outcome {
                    Outcome::Done => {
                        let _ = delivery.ack(BasicAckOptions::default()).await;
                    }
                    Outcome::Defer(reason, ms) => {
                        let later = Job {
                            not_before: now_ms() + ms as i64,
                            ..job
                        };
                        tracing::debug!(job = %later.id, %reason, "job deferred");
                        if queue.enqueue(&later).await.is_ok() {
                            let _ = delivery.ack(BasicAckOptions::default()).await;
                        }
                    }
                    Outcome::Retry(reason) if job.attempt + 1 < max_attempts => {
                        let next = Job {
                            attempt: job.attempt + 1,
                            not_before: now_ms() + backoff_ms(retry_base_ms, job.attempt) as i64,
                            ..job
                        };
                        tracing::warn!(job = %next.id, attempt = next.attempt, %reason, "job failed; retrying");
                        match queue.enqueue(&next).await {
                            Ok(()) => {
                                let _ = delivery.ack(BasicAckOptions::default()).await;
                            }
                            // Not re-queued: leave it unacknowledged, the broker redelivers it.
                            Err(e) => tracing::error!(error = %e, "could not re-queue a job"),
                        }
                    }
                    Outcome::Retry(reason) | Outcome::Fail(reason) => {
                        tracing::error!(job = %job.id, attempt = job.attempt, %reason, "job dead-lettered");
                        let _ = delivery.reject(reject).await;
                    }
                }
            });
        }
        Ok(())
    }
}

/// Keeps consuming across broker restarts, reconnecting with a pause.
pub async fn run_forever<F, Fut>(
    url: String,
    prefix: String,
    prefetch: u16,
    max_attempts: u32,
    retry_base_ms: u64,
    run: F,
) where
    F: Fn(Job) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    loop {
        let result = match RabbitQueue::connect(&url, &prefix).await {
            Ok(queue) => {
                queue
                    .consume(prefetch, max_attempts, retry_base_ms, run.clone())
                    .await
            }
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "job consumer lost RabbitMQ; reconnecting");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
