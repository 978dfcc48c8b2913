//! Group commit with backoff, what a commit's outcome means for its sessions, compaction, and unloading an idle document.

use super::*;

impl DocumentActor {
    /// Starts a group commit unless one is in flight: updates arriving meanwhile form the next
    /// batch, so under load each store write carries many updates.
    pub(super) fn commit(&mut self, ctx: &mut Context<Self>) {
        if self.backing_off {
            return;
        }
        let Some(batch) = self.live.start_commit() else {
            return;
        };
        let raws: Vec<Bytes> = batch.iter().map(|p| p.raw.clone()).collect();
        let store = self.store.clone();
        let id = self.id.clone();
        let started = Instant::now();
        let timeout = Duration::from_millis(self.config.store_write_timeout_ms);
        ctx.spawn(
            async move {
                match actix_rt::time::timeout(timeout, store.append(&id, raws)).await {
                    Ok(result) => result,
                    Err(_) => Err(StoreError::Unavailable(format!(
                        "store write timed out after {timeout:?}"
                    ))),
                }
            }
            .into_actor(self)
            .map(move |result, act, ctx| {
                metrics::histogram!("creo_commit_seconds").record(started.elapsed().as_secs_f64());
                act.committed(batch, result, ctx)
            }),
        );
    }

    pub(super) fn committed(
        &mut self,
        batch: Vec<Pending<Writer>>,
        result: Result<crate::store::Appended, StoreError>,
        ctx: &mut Context<Self>,
    ) {
        let appended = match result {
            Ok(a) => a,
            Err(e) => {
                // Nothing was shown to anyone: put the batch back in front and retry with
                // backoff. New writes are refused once the backlog limit is reached.
                metrics::counter!("creo_store_errors_total").increment(1);
                if !self.write_failing {
                    self.write_failing = true;
                    self.health.write_failed();
                }
                tracing::warn!(parent: &self.span, error = %e, retry_in = ?self.retry_delay, "store write failed");
                self.live.commit_failed(batch);
                let delay = self.retry_delay;
                self.retry_delay = (self.retry_delay * 2).min(Duration::from_secs(5));
                self.backing_off = true;
                ctx.run_later(delay, |act, ctx| {
                    act.backing_off = false;
                    act.commit(ctx)
                });
                return;
            }
        };
        self.retry_delay = Duration::from_millis(50);
        if self.write_failing {
            self.write_failing = false;
            self.health.write_recovered();
            tracing::info!(parent: &self.span, "store writes recovered");
        }
        metrics::histogram!("creo_commit_batch_updates").record(batch.len() as f64);
        let durable = self.live.committed(batch, appended.epoch);
        for e in &durable.apply_errors {
            // Decoding validated it; yrs keeps updates with missing dependencies pending.
            tracing::warn!(parent: &self.span, error = %e, "stored update did not apply");
        }
        let mut acks: HashMap<SessionId, u64> = HashMap::new();
        let raws = durable.raws;
        if self.membership.as_ref().is_some_and(|m| m.clustered()) {
            self.publish(DocMessage::Updates(raws.clone()));
        }
        let mut authors: Vec<Option<SessionId>> = Vec::with_capacity(raws.len());
        for writer in durable.writers {
            match writer {
                Writer::Session(sid) => {
                    *acks.entry(sid).or_default() += 1;
                    authors.push(Some(sid));
                }
                Writer::Rest(reply) => {
                    let _ = reply.send(Ok(()));
                    authors.push(None);
                }
            }
        }
        let deliveries = self.deliver_batch(&raws, &authors);
        metrics::counter!("creo_updates_out_total").increment(deliveries);
        self.presence_rides();
        if let Some(meta) = &self.meta {
            self.home.changed(&self.id, &meta.account_id);
        }
        for (sid, n) in acks {
            if let Some(m) = self.sessions.get_mut(&sid) {
                m.durable += n;
                if m.extensions.ack {
                    m.outbox.ack(sync::encode_ack(m.durable));
                }
            }
        }
        self.compact_if_long(ctx);
        if !self.live.has_pending() {
            for w in self.flushed_waiters.drain(..) {
                let _ = w.send(());
            }
        } else {
            self.commit(ctx);
        }
    }

    pub(super) fn compact_if_long(&mut self, ctx: &mut Context<Self>) {
        if self.live.wants_compaction() {
            self.compact(ctx);
        }
    }

    /// Folds the log into a snapshot in the background (the store does the heavy work off the
    /// executor), so loading stays one snapshot plus a short tail however long the history.
    pub(super) fn compact(&mut self, ctx: &mut Context<Self>) {
        if self.compacting {
            return;
        }
        self.compacting = true;
        let store = self.store.clone();
        let id = self.id.clone();
        ctx.spawn(
            async move { store.compact(&id).await }
                .into_actor(self)
                .map(|result, act, ctx| {
                    act.compacting = false;
                    match result {
                        Ok(Some(c)) => {
                            metrics::counter!("creo_compactions_total").increment(1);
                            tracing::debug!(parent: &act.span, epoch = c.epoch, bytes = c.snapshot_bytes, folded = c.folded_updates, "compacted");
                            act.live.compacted(c.epoch, c.snapshot_bytes);
                            // The log may have grown past the threshold while this ran.
                            act.compact_if_long(ctx);
                        }
                        Ok(None) => {}
                        Err(e) => tracing::warn!(parent: &act.span, error = %e, "compaction failed"),
                    }
                }),
        );
    }

    pub(super) fn schedule_unload(&mut self, ctx: &mut Context<Self>) {
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
        if self.sessions.is_empty() {
            let grace = self.config.unload_grace();
            self.idle_timer = Some(ctx.run_later(grace, |act, ctx| act.unload(ctx)));
        }
    }

    /// Last session gone and the grace period over: flush, compact a long log, leave the
    /// registry (its home), stop. Requests arriving meanwhile are answered `Unloading` and retried by the
    /// registry against a fresh actor that loads the flushed state.
    pub(super) fn unload(&mut self, ctx: &mut Context<Self>) {
        self.idle_timer = None;
        if !self.sessions.is_empty() || self.phase != Phase::Live {
            return;
        }
        if !self.live.flushed() || self.backing_off || self.compacting {
            // Let the running write finish (its completion needs this actor's context).
            self.idle_timer =
                Some(ctx.run_later(Duration::from_millis(20), |act, ctx| act.unload(ctx)));
            return;
        }
        self.phase = Phase::Closing;
        let store = self.store.clone();
        let id = self.id.clone();
        let compact = self.live.log_len() >= 64;
        ctx.wait(
            async move {
                if compact {
                    let _ = store.compact(&id).await;
                }
            }
            .into_actor(self)
            .map(|_, act, ctx| {
                act.home.stopped(&act.id, &ctx.address());
                ctx.stop();
            }),
        );
    }
}
