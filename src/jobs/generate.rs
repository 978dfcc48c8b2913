//! The generation job: build a pending generation's four variations (`creo_core::generations`), score
//! each through the inference pool, capture the credits of those that succeeded (release the
//! rest), store the result and show it to the document's editors.
//!
//! Idempotent: a generation that is no longer pending (a redelivered job after the result was
//! stored) is left alone, and its reservation is settled once (a second capture of a settled
//! reservation changes nothing).

use std::sync::Arc;
use std::time::Duration;

use super::{Job, JobKind, Outcome};
use crate::actors::account::{Accounts, Settle};
use crate::ai::vocabulary::Vocabulary;
use crate::events::Events;
use crate::generations::{self, Generation, Status, Variation};
use crate::gpu::{Input, Pool};
use crate::store::Settlement;
use crate::store::{now_ms, Stores};

pub struct Generator {
    pub stores: Stores,
    pub pool: Pool,
    pub model: String,
    pub timeout: Duration,
    pub accounts: Arc<Accounts>,
    pub events: Arc<Events>,
    pub hashtags: Arc<Vocabulary>,
    /// `hashtag_min_score`.
    pub min_score: f32,
    /// Where the retention job of a finished generation is queued, and how long it waits.
    pub jobs: Arc<crate::queue::JobQueue>,
    pub retention_ms: i64,
}

impl Generator {
    pub async fn run(&self, job: &Job) -> Outcome {
        let JobKind::Generate {
            doc_id,
            generation_id,
        } = &job.kind
        else {
            return Outcome::Fail("not a generation job".into());
        };
        let mut g = match self
            .stores
            .generations
            .generation(doc_id, generation_id)
            .await
        {
            Ok(Some(g)) if g.status == Status::Pending => g,
            Ok(_) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let field = g.field.clone();
        let read = move |doc: &yrs::Doc| crate::fields::read(doc, &field).unwrap_or_default();
        let text = match crate::snapshot::stored(&self.stores.documents, doc_id, read).await {
            Ok(text) => text.unwrap_or_default(),
            Err(e @ crate::store::StoreError::Corrupt(_)) => return Outcome::Fail(e.to_string()),
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        if text.trim().is_empty() {
            g.error = Some(format!("the field {} is empty", g.field));
        } else {
            // The brand's own hashtags come first wherever a variation adds hashtags.
            let brand = match self.stores.brand.brand_kit(&g.account_id).await {
                Ok(kit) => kit.map(|k| k.hashtags).unwrap_or_default(),
                Err(e) => return Outcome::Retry(e.to_string()),
            };
            g.variations = self.variations(&text, &brand).await;
        }
        let succeeded = g.variations.iter().filter(|v| v.succeeded()).count() as i64;
        g.status = if succeeded > 0 {
            Status::Done
        } else {
            if g.error.is_none() {
                g.error = g.variations.iter().find_map(|v| v.error.clone());
            }
            Status::Failed
        };
        if let Some(reservation) = &g.reservation_id {
            let how = if succeeded > 0 {
                Settlement::Capture {
                    quantity: succeeded,
                }
            } else {
                Settlement::Release
            };
            let settle = Settle {
                reservation_id: reservation.clone(),
                how,
            };
            match self.accounts.ask(&g.account_id, settle).await {
                Ok((held, entry, _)) => {
                    g.charged_milli = entry.map_or(0, |_| held.capture_amount(succeeded));
                }
                Err(crate::actors::account::AccountError::Store(e)) => {
                    return Outcome::Retry(e.to_string())
                }
                Err(e) => {
                    // Expired and released meanwhile: the variations are free.
                    tracing::warn!(generation = %g.generation_id, error = %e, "settling a generation failed");
                    g.charged_milli = 0;
                }
            }
        }
        g.completed_at = Some(now_ms());
        if let Err(e) = self.stores.generations.put_generation(&g).await {
            return Outcome::Retry(e.to_string());
        }
        metrics::counter!("creo_generations_total", "status" => if g.status == Status::Done { "done" } else { "failed" })
            .increment(1);
        self.prune_later(&g).await;
        let event = serde_json::json!({ "type": "generation", "generation": g });
        self.events.to_editors(doc_id, &event);
        self.events.people().generation_ended(&g, succeeded).await;
        let completed = serde_json::json!({
            "job_id": job.id,
            "kind": "generation",
            "doc_id": doc_id,
            "generation_id": g.generation_id,
            "outcome": if g.status == Status::Done { "done" } else { "failed" },
            "succeeded": succeeded,
            "charged_milli": g.charged_milli,
        });
        self.events
            .to_webhooks(&g.account_id, Some(doc_id), "job.completed", completed)
            .await;
        Outcome::Done
    }

    /// Queues the retention of a finished generation's variations nobody chose.
    async fn prune_later(&self, g: &Generation) {
        let job = Job {
            id: format!("prune-{}", g.generation_id),
            kind: JobKind::PruneGeneration {
                doc_id: g.doc_id.clone(),
                generation_id: g.generation_id.clone(),
            },
            not_before: g.completed_at.unwrap_or_else(now_ms) + self.retention_ms,
            attempt: 0,
        };
        if let Err(e) = self.jobs.enqueue(&job).await {
            tracing::warn!(job = %job.id, error = %e, "a generation's retention could not be queued");
        }
    }

    /// Retention (seed 004 §7.5): the variations nobody chose go once the generation is old
    /// enough. A deleted document or generation has nothing left to prune.
    pub async fn prune(&self, job: &Job) -> Outcome {
        let JobKind::PruneGeneration {
            doc_id,
            generation_id,
        } = &job.kind
        else {
            return Outcome::Fail("not a retention job".into());
        };
        let mut g = match self
            .stores
            .generations
            .generation(doc_id, generation_id)
            .await
        {
            Ok(Some(g)) => g,
            Ok(None) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        if g.pruned_at.is_some() {
            return Outcome::Done;
        }
        let dropped = g.variations.len() - usize::from(g.selected.is_some());
        g.prune(now_ms());
        if let Err(e) = self.stores.generations.put_generation(&g).await {
            return Outcome::Retry(e.to_string());
        }
        metrics::counter!("creo_generation_variations_pruned_total").increment(dropped as u64);
        Outcome::Done
    }

    /// The four variations, each scored by its own inference (so one the pool fails on fails
    /// alone, and is not paid for); `brand_tags` are the brand kit's hashtags.
    async fn variations(&self, text: &str, brand_tags: &[String]) -> Vec<Variation> {
        let original = text;
        let parts = generations::split(text);
        let mut inputs = vec![Input::Text(text.to_string())];
        inputs.extend(parts.sentences.iter().cloned().map(Input::Text));
        // Ranking the sentences helps but is not what is sold: without it, their order stands.
        let embedded = self.pool.infer(&self.model, inputs, self.timeout).await;
        let (whole, rank) = match embedded {
            Ok(out) => {
                let whole = out[0].vector.clone();
                let rank = out[1..]
                    .iter()
                    .map(|o| generations::similarity(&whole, &o.vector))
                    .collect();
                (Some(whole), rank)
            }
            Err(e) => {
                tracing::warn!(error = %e, "ranking sentences failed; keeping their order");
                (None, Vec::new())
            }
        };
        let suggested = match &whole {
            Some(v) => self
                .hashtags
                .suggest(
                    &self.pool,
                    &self.model,
                    text,
                    v,
                    5,
                    self.min_score,
                    self.timeout,
                )
                .await
                .map(|hits| hits.into_iter().map(|h| h.doc_id).collect())
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let suggested = generations::brand_first(brand_tags, suggested);
        let candidates = generations::candidates(&parts, &rank, &suggested);
        let scored = futures_util::future::join_all(candidates.iter().map(|(_, text)| {
            self.pool
                .infer(&self.model, vec![Input::Text(text.clone())], self.timeout)
        }))
        .await;
        candidates
            .into_iter()
            .zip(scored)
            .enumerate()
            .map(|(index, ((style, text), scored))| {
                let (similarity, error) = match (scored, &whole) {
                    // Offered only when it differs from the post: a copy is not a variation.
                    _ if generations::same_words(&text, original) => (
                        None,
                        Some("the same as the post: it is already as short and as tagged as this style makes it".into()),
                    ),
                    (Ok(out), Some(whole)) => {
                        (Some(generations::similarity(whole, &out[0].vector)), None)
                    }
                    // Nothing to compare with: the original itself could not be embedded.
                    (Ok(_), None) => (None, Some("the model could not read the post".into())),
                    (Err(e), _) => (None, Some(e.to_string())),
                };
                Variation {
                    index,
                    style,
                    text,
                    similarity,
                    error,
                }
            })
            .collect()
    }
}

/// A new pending generation for `doc_id`, paid by `reservation_id` when there is one.
pub fn pending(
    doc_id: &str,
    account_id: &str,
    requested_by: &str,
    field: &str,
    reservation_id: Option<String>,
    price_milli: i64,
) -> Generation {
    Generation {
        generation_id: format!("gen_{}", uuid::Uuid::now_v7().simple()),
        doc_id: doc_id.to_string(),
        account_id: account_id.to_string(),
        requested_by: requested_by.to_string(),
        field: field.to_string(),
        status: Status::Pending,
        reservation_id,
        price_milli,
        charged_milli: 0,
        variations: Vec::new(),
        selected: None,
        error: None,
        created_at: now_ms(),
        completed_at: None,
        pruned_at: None,
    }
}
