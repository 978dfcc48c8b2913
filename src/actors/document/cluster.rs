//! The document across nodes: publishing to the bus, remote presence and updates, and resyncing from the store when the bus may have lost a message.

use super::*;

impl DocumentActor {
    pub(super) fn publish(&mut self, message: DocMessage) {
        if let Some(m) = &mut self.membership {
            m.publish(message);
        }
    }

    pub(super) fn local_presence(&self) -> Option<Bytes> {
        self.live
            .presence()
            .local_snapshot()
            .map(|p| Bytes::from(p.encode_v1()))
    }

    /// Shows presence relayed by another node to this node's sessions.
    pub(super) fn apply_remote_presence(
        &mut self,
        node: NodeId,
        raw: &[u8],
        ctx: &mut Context<Self>,
    ) {
        // Another node's snapshot may hold every state of its sessions: no count limit beyond
        // the bytes, but the same bound on each state.
        let limits = sync::FrameLimits {
            max_awareness_entries: usize::MAX,
            ..self.config.frame_limits()
        };
        match sync::decode_awareness(raw, &limits) {
            Ok(update) => {
                if let Some(relay) = self.live.presence_mut().apply_remote(node, update) {
                    self.show_presence(Source::Remote, relay, ctx);
                }
            }
            Err(e) => {
                metrics::counter!("creo_bus_dropped_total", "reason" => "invalid_awareness")
                    .increment(1);
                tracing::warn!(parent: &self.span, error = %e, "invalid awareness from the bus");
            }
        }
    }

    /// A message another node published for this document.
    pub(super) fn on_remote(
        &mut self,
        origin: Origin,
        seq: u64,
        message: DocMessage,
        ctx: &mut Context<Self>,
    ) {
        self.peers.insert(origin.node);
        if seq > 0 {
            let last = self.heard.insert(origin, seq);
            if last.is_some_and(|last| seq != last + 1) {
                metrics::counter!("creo_bus_gaps_total").increment(1);
                tracing::info!(parent: &self.span, node = format_args!("{:016x}", origin.node), expected = last.unwrap_or(0) + 1, got = seq, "bus gap; resyncing from the store");
                self.resync(ctx);
            }
        }
        match message {
            DocMessage::Updates(updates) => {
                let limits = self.config.update_limits().trusted();
                let remote = self.live.apply_remote(updates, &limits);
                for e in &remote.apply_errors {
                    tracing::warn!(parent: &self.span, error = %e, "update from the bus did not apply");
                }
                for e in &remote.invalid {
                    metrics::counter!("creo_bus_dropped_total", "reason" => "invalid_update")
                        .increment(1);
                    tracing::warn!(parent: &self.span, error = %e, "invalid update from the bus; resyncing");
                }
                let (applied, invalid) = (remote.applied, !remote.invalid.is_empty());
                let deliveries = self.deliver_batch(&applied, &vec![None; applied.len()]);
                metrics::counter!("creo_bus_updates_applied_total").increment(applied.len() as u64);
                metrics::counter!("creo_updates_out_total").increment(deliveries);
                self.take_ready(ctx);
                if invalid {
                    self.resync(ctx);
                }
            }
            DocMessage::Awareness(raw) => self.apply_remote_presence(origin.node, &raw, ctx),
            DocMessage::Hello { presence } => {
                if let Some(raw) = presence {
                    self.apply_remote_presence(origin.node, &raw, ctx);
                }
                let presence = self.local_presence();
                self.publish(DocMessage::Here { presence });
            }
            DocMessage::Here { presence } => {
                if let Some(raw) = presence {
                    self.apply_remote_presence(origin.node, &raw, ctx);
                }
            }
            DocMessage::Resync => self.resync(ctx),
            DocMessage::Event(json) => self.send_event(&json),
        }
    }

    /// Reloads the document from the store and shows this node's sessions whatever it lacked:
    /// the recovery for any message the bus may have lost (everything published was stored
    /// first).
    pub(super) fn resync(&mut self, ctx: &mut Context<Self>) {
        if self.phase != Phase::Live {
            return;
        }
        if self.resyncing {
            self.resync_again = true;
            return;
        }
        self.resyncing = true;
        self.resync_again = false;
        metrics::counter!("creo_bus_resyncs_total").increment(1);
        let (store, id, bus) = (self.store.clone(), self.id.clone(), self.bus.clone());
        ctx.spawn(
            async move {
                let _permit = bus.resync_permit().await;
                match store.load(&id).await? {
                    None => Ok(None),
                    Some(stored) => tokio::task::spawn_blocking(move || stored.fold().map(Some))
                        .await
                        .map_err(|e| StoreError::Unavailable(e.to_string()))?,
                }
            }
            .into_actor(self)
            .map(|result: Result<Option<Vec<u8>>, StoreError>, act, ctx| {
                act.resyncing = false;
                match result {
                    Ok(Some(state)) => {
                        act.merge_stored(&state);
                        act.take_ready(ctx);
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::warn!(parent: &act.span, error = %e, "resync from the store failed; retrying");
                        act.resync_again = true;
                    }
                }
                if act.resync_again {
                    ctx.run_later(Duration::from_millis(200), |act, ctx| act.resync(ctx));
                }
            }),
        );
    }

    pub(super) fn merge_stored(&mut self, state: &[u8]) {
        let limits = self.config.update_limits().trusted();
        let merged = match self.live.merge_stored(state, &limits) {
            Ok(merged) => merged,
            Err(e) => {
                tracing::error!(parent: &self.span, error = %e, "stored state does not decode");
                return;
            }
        };
        if let Some(e) = merged.apply_error {
            tracing::warn!(parent: &self.span, error = %e, "stored state did not apply");
        }
        if let Some(news) = merged.news {
            metrics::counter!("creo_bus_resync_recovered_total").increment(1);
            tracing::info!(parent: &self.span, bytes = news.len(), "resync recovered updates the bus had lost");
            let deliveries = self.broadcast(&sync::encode_update(&news), None);
            metrics::counter!("creo_updates_out_total").increment(deliveries);
        }
    }
}
