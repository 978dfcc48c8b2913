//! Group commit with backoff, what a commit's outcome means for its sessions, compaction, and unloading an idle document.

use super::*;

impl DocumentActor {
    /// Starts a group commit unless one is in flight: updates arriving meanwhile form the next
    /// batch, so under load each store write carries many updates.
    pub(super) fn commit(&mut self, ctx: &mut Context<Self>) {
        if self.in_flight || self.backing_off || self.pending.is_empty() {
            return;
        }
        let n = self.pending.len().min(self.config.commit_max_updates);
        let batch: Vec<Pending> = self.pending.drain(..n).collect();
        let raws: Vec<Bytes> = batch.iter().map(|p| p.raw.clone()).collect();
        self.in_flight = true;
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
        batch: Vec<Pending>,
        result: Result<crate::store::Appended, StoreError>,
        ctx: &mut Context<Self>,
    ) {
        self.in_flight = false;
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
                self.pending.splice(0..0, batch);
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
        if appended.epoch > self.epoch {
            // Compacted meanwhile (here or by another node): the new epoch's log starts now.
            self.epoch = appended.epoch;
            self.log_len = 0;
            self.log_bytes = 0;
        }
        if appended.epoch == self.epoch {
            self.log_len += batch.len() as u64;
        }
        let mut durable = Vec::with_capacity(batch.len());
        self.encoded = None;
        {
            let mut txn = self.doc.transact_mut();
            for p in batch {
                self.log_bytes += p.raw.len() as u64;
                self.changed_by.insert(p.author);
                if let Err(e) = txn.apply_update(p.update) {
                    // Decoding validated it; yrs keeps updates with missing dependencies pending.
                    tracing::warn!(parent: &self.span, error = %e, "stored update did not apply");
                }
                durable.push((p.raw, p.writer));
            }
        }
        let mut acks: HashMap<SessionId, u64> = HashMap::new();
        let raws: Vec<Bytes> = durable.iter().map(|(raw, _)| raw.clone()).collect();
        if self.membership.as_ref().is_some_and(|m| m.clustered()) {
            self.publish(DocMessage::Updates(raws.clone()));
        }
        let mut authors: Vec<Option<SessionId>> = Vec::with_capacity(durable.len());
        for (raw, writer) in durable {
            self.pending_bytes -= raw.len();
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
        if let Some(meta) = &self.meta {
            self.home.changed(&self.id, &meta.account_id);
        }
        for (sid, n) in acks {
            let frame = match self.sessions.get_mut(&sid) {
                Some(m) => {
                    m.durable += n;
                    m.extensions.ack.then(|| sync::encode_ack(m.durable))
                }
                None => None,
            };
            if let Some(frame) = frame {
                self.send_to(sid, frame);
            }
        }
        self.compact_if_long(ctx);
        if self.pending.is_empty() {
            for w in self.flushed_waiters.drain(..) {
                let _ = w.send(());
            }
        } else {
            self.commit(ctx);
        }
    }

    pub(super) fn compact_if_long(&mut self, ctx: &mut Context<Self>) {
        if self.log_len >= self.config.compact_after_updates
            || self.log_bytes >= self.config.compact_after_bytes
        {
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
                            act.approx_bytes = c.snapshot_bytes + act.pending_bytes as u64;
                            // Appends that already landed in the new epoch reported its length.
                            if c.epoch > act.epoch {
                                act.epoch = c.epoch;
                                act.log_len = 0;
                                act.log_bytes = 0;
                            }
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
        if self.in_flight || self.backing_off || self.compacting || !self.pending.is_empty() {
            // Let the running write finish (its completion needs this actor's context).
            self.idle_timer =
                Some(ctx.run_later(Duration::from_millis(20), |act, ctx| act.unload(ctx)));
            return;
        }
        self.phase = Phase::Closing;
        let store = self.store.clone();
        let id = self.id.clone();
        let compact = self.log_len >= 64;
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
