//! A session's messages: sync, awareness and updates, checked (role, validity, order) and queued for the next group commit.

use super::*;

impl DocumentActor {
    pub(super) fn handle_client(
        &mut self,
        session: SessionId,
        msg: Inbound,
        ctx: &mut Context<Self>,
    ) {
        let Some(member) = self.sessions.get(&session) else {
            return; // evicted meanwhile; its socket is closing
        };
        match msg {
            Inbound::SyncStep1(sv) => {
                // One answer at a time: a queued one already covers a newer SyncStep1 (see
                // `Outbox::answer_queued`), so a client repeating it costs no more memory.
                if member.outbox.answer_queued() {
                    metrics::counter!("creo_sync_answers_coalesced_total").increment(1);
                    return;
                }
                let diff = self.live.diff(&sv);
                if let Err(full) = member.outbox.push_answer(sync::encode_sync_step2(diff)) {
                    self.fell_behind(session, full);
                }
            }
            Inbound::Update(update) => {
                // A SyncStep2 that brings nothing new (a reconnect echo) is neither refused nor
                // stored again; a live update always carries new operations.
                if update.kind == UpdateKind::SyncStep2
                    && !self.live.changes(&update.shape, &update.update)
                {
                    return;
                }
                self.offer(session, update, ctx);
            }
            // Decided by the session, which does not decode a reader's updates.
            Inbound::ReadOnlyUpdate(_) => {}
            Inbound::Awareness(update) => {
                let (user, role) = (member.principal.user.clone(), member.principal.role);
                let applied = self
                    .live
                    .presence_mut()
                    .apply(session, &user, role.as_str(), update);
                for (_, refusal) in &applied.refused {
                    metrics::counter!("creo_refused_messages_total", "reason" => refusal.metric_reason())
                        .increment(1);
                }
                if let Some(relay) = applied.relay {
                    self.show_presence(Source::Session(session), relay, ctx);
                }
            }
            Inbound::QueryAwareness => {
                if let Some(all) = self.live.presence().snapshot() {
                    self.send_to(session, sync::encode_awareness(all));
                }
            }
            Inbound::Auth => {}
        }
    }

    /// Offers a session's update to the intake once the write rules admit it: taken when what
    /// it builds on is here, parked until then (bounded: past the bound the session resyncs).
    pub(super) fn offer(
        &mut self,
        session: SessionId,
        update: ClientUpdate,
        ctx: &mut Context<Self>,
    ) {
        let Some(principal) = self.sessions.get(&session).map(|m| m.principal.clone()) else {
            return;
        };
        match self.admit(&principal, &update.raw) {
            Ok(()) => {}
            Err(DocError::ReadOnly) => {
                return self.send_to(
                    session,
                    sync::encode_permission_denied("read-only: your role cannot edit"),
                )
            }
            Err(DocError::TooLarge) => {
                return self.evict(session, close::DOCUMENT_TOO_LARGE, "document_too_large")
            }
            Err(_) => return self.evict(session, close::TRY_AGAIN_LATER, "store_backlog"),
        }
        match self.live.offer(session, update, Instant::now()) {
            Offer::Taken => self.take_ready(ctx),
            Offer::Parked => metrics::counter!("creo_updates_parked_total").increment(1),
            Offer::Resync => {
                metrics::counter!("creo_refused_messages_total", "reason" => "unresolved_update")
                    .increment(1);
                self.evict(session, close::RESYNC_NEEDED, "unresolved update");
            }
        }
    }

    /// Queues for the store whatever the intake took, in the order it took it.
    pub(super) fn take_ready(&mut self, ctx: &mut Context<Self>) {
        for (session, update) in self.live.ready() {
            let author = match self.sessions.get_mut(&session) {
                Some(m) => {
                    m.accepted += 1;
                    m.principal.user.clone()
                }
                // Taken in the same call that offered it, so the session is here; whatever
                // was taken must be stored, or the intake would count content never written.
                None => Arc::from(""),
            };
            self.enqueue(
                update.raw,
                update.update,
                Writer::Session(session),
                author,
                ctx,
            );
        }
    }

    /// The write rules shared by sockets and REST (`LiveDoc::admit`), each refusal counted.
    pub(super) fn admit(&self, principal: &Principal, raw: &[u8]) -> Result<(), DocError> {
        self.live.admit(principal.role, raw.len()).map_err(|refusal| {
            metrics::counter!("creo_refused_messages_total", "reason" => refusal.metric_reason())
                .increment(1);
            DocError::from(refusal)
        })
    }

    pub(super) fn enqueue(
        &mut self,
        raw: Bytes,
        update: Update,
        writer: Writer,
        author: Arc<str>,
        ctx: &mut Context<Self>,
    ) {
        metrics::counter!("creo_updates_in_total").increment(1);
        metrics::counter!("creo_bytes_in_total").increment(raw.len() as u64);
        self.live.enqueue(raw, update, writer, author);
        self.commit(ctx);
    }
}
