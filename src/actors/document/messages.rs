//! The messages a document actor answers (sessions joining and leaving, REST reads and writes,
//! access changes, versions, events and shutdown), and the one it sends its sessions.

use super::*;

/// What a document (or the server) tells a session to do.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub enum SessionCommand {
    Close { code: u16, reason: &'static str },
}

/// Closes `user`'s sessions in this document if it belongs to `account` (access revoked).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Revoke {
    pub account: String,
    pub user: String,
}

impl Handler<Revoke> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: Revoke, _: &mut Context<Self>) {
        if self
            .meta
            .as_ref()
            .is_none_or(|m| *m.account_id != *msg.account)
        {
            return;
        }
        self.revoke_where(
            |p| *p.user == *msg.user && *p.account == *msg.account,
            "access_revoked",
        );
    }
}

/// `user`'s role in `account` changed: their sessions here take the new role at once (a demoted
/// editor's next update is refused), or close with 4403 when they are no longer a member.
/// Sessions opened with a token minted for an app (no login session) can only lose rights: their
/// token's role stays the ceiling.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ChangeRole {
    pub account: String,
    pub user: String,
    pub role: Option<Role>,
}

impl Handler<ChangeRole> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: ChangeRole, _: &mut Context<Self>) {
        let affected: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, m)| *m.principal.user == *msg.user && *m.principal.account == *msg.account)
            .map(|(id, _)| *id)
            .collect();
        for id in affected {
            let Some(role) = msg.role else {
                self.evict(id, close::ACCESS_REVOKED, "membership_removed");
                continue;
            };
            let Some(member) = self.sessions.get_mut(&id) else {
                continue;
            };
            let old = member.principal.role;
            let new = role_after_change(member.principal.session.is_some(), old, role);
            if new != old {
                let mut principal = (*member.principal).clone();
                principal.role = new;
                member.principal = Arc::new(principal);
                member.can_write.store(new.can_write(), Ordering::Release);
                if old.can_write() && !new.can_write() {
                    self.send_to(
                        id,
                        sync::encode_permission_denied("read-only: your role was changed"),
                    );
                }
                tracing::info!(parent: &self.span, session = id, from = old.as_str(), to = new.as_str(), "role changed on an open session");
            }
        }
    }
}

/// A login session was revoked: close the sockets its tokens opened here (4403).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseSession {
    pub session: String,
}

impl Handler<CloseSession> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: CloseSession, _: &mut Context<Self>) {
        self.revoke_where(
            |p| p.session.as_deref() == Some(msg.session.as_str()),
            "session_revoked",
        );
    }
}

/// The account now requires a second factor that these people lack: close the sockets they
/// opened in it with a login session (4403; reconnecting is refused until they enrol).
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseUnenrolled {
    pub account: String,
    pub users: Arc<[String]>,
}

impl Handler<CloseUnenrolled> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: CloseUnenrolled, _: &mut Context<Self>) {
        self.revoke_where(
            |p| {
                p.session.is_some()
                    && *p.account == *msg.account
                    && msg.users.iter().any(|u| *u == *p.user)
            },
            "mfa_enrolment_required",
        );
    }
}

/// The document was deleted: every session closes with 4404 (it no longer exists) and the
/// actor stops without writing anything more (appends to a deleted document are refused).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Deleted;

impl Handler<Deleted> for DocumentActor {
    type Result = ();

    fn handle(&mut self, _: Deleted, ctx: &mut Context<Self>) {
        let all: Vec<SessionId> = self.sessions.keys().copied().collect();
        for id in all {
            self.evict(id, close::NOT_FOUND, "document_deleted");
        }
        self.home.stopped(&self.id, &ctx.address());
        ctx.stop();
    }
}

/// A participant the server plays (the AI) shows or updates its presence here, as if from a
/// session of its own; `None` removes it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Participant {
    pub session: SessionId,
    pub user: Arc<str>,
    pub update: Option<yrs::sync::AwarenessUpdate>,
}

impl Handler<Participant> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: Participant, ctx: &mut Context<Self>) {
        let Some(update) = msg.update else {
            self.announce_departure(msg.session);
            return;
        };
        let applied =
            self.live
                .presence_mut()
                .apply(msg.session, &msg.user, Role::Editor.as_str(), update);
        if let Some(relay) = applied.relay {
            self.show_presence(Source::Node, relay, ctx);
        }
    }
}

/// The durable state for a new version, and who wrote since the previous one (then forgotten).
#[derive(Message)]
#[rtype(result = "Result<(Vec<u8>, Vec<String>), DocError>")]
pub struct TakeVersion {
    pub principal: Arc<Principal>,
}

impl Handler<TakeVersion> for DocumentActor {
    type Result = Result<(Vec<u8>, Vec<String>), DocError>;

    fn handle(&mut self, msg: TakeVersion, _: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        self.check_owner(&msg.principal)?;
        let state = self.encoded_state().to_vec();
        let changed_by = self
            .live
            .take_changed_by()
            .into_iter()
            .map(|u| u.to_string())
            .collect();
        Ok((state, changed_by))
    }
}

/// A document event (a workflow transition) for the sessions that asked for events.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Event {
    pub json: String,
}

impl Handler<Event> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: Event, _: &mut Context<Self>) {
        self.send_event(&msg.json);
    }
}

impl DocumentActor {
    pub(super) fn send_event(&mut self, json: &str) {
        let frame = sync::encode_event(json);
        let listening: Vec<SessionId> = self
            .sessions
            .iter()
            .filter(|(_, m)| m.extensions.events)
            .map(|(id, _)| *id)
            .collect();
        for id in listening {
            self.send_to(id, frame.clone());
        }
    }
}

/// A session asks to receive this document's updates.
#[derive(Message)]
#[rtype(result = "Result<(), DocError>")]
pub struct Join {
    pub session: SessionId,
    pub principal: Arc<Principal>,
    pub outbox: Arc<Outbox>,
    pub can_write: Arc<AtomicBool>,
    pub control: Recipient<SessionCommand>,
    pub extensions: sync::Extensions,
}

impl Handler<Join> for DocumentActor {
    type Result = Result<(), DocError>;

    fn handle(&mut self, msg: Join, ctx: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        self.check_owner(&msg.principal)?;
        if self.sessions.len() >= self.config.max_connections_per_document {
            return Err(DocError::TooManyConnections);
        }
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
        // The server's SyncStep1 pulls in whatever the client holds that we lack (offline
        // edits); current presence follows so the newcomer sees who is here.
        let sv = self.live.state_vector();
        let mut initial = vec![sync::encode_sync_step1(&sv)];
        if let Some(all) = self.live.presence().snapshot() {
            initial.push(sync::encode_awareness(all));
        }
        for frame in initial {
            // A fresh queue has room; failing means the session is already gone, and its
            // Leave will follow.
            let _ = msg.outbox.push(frame);
        }
        self.sessions.insert(
            msg.session,
            Subscriber {
                principal: msg.principal,
                outbox: msg.outbox,
                can_write: msg.can_write,
                control: msg.control,
                extensions: msg.extensions,
                accepted: 0,
                durable: 0,
            },
        );
        Ok(())
    }
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct Leave {
    pub session: SessionId,
}

impl Handler<Leave> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: Leave, ctx: &mut Context<Self>) {
        if let Some(m) = self.remove_subscriber(msg.session) {
            if m.accepted > m.durable {
                tracing::debug!(parent: &self.span, session = msg.session, waiting = m.accepted - m.durable, "session left with writes in flight; they are still committed");
            }
            self.announce_departure(msg.session);
        }
        self.schedule_unload(ctx);
    }
}

/// The decoded messages of one client frame, with the frame's share of the session's
/// in-flight budget (given back when this is handled or dropped).
#[derive(Message)]
#[rtype(result = "()")]
pub struct FromClient {
    pub session: SessionId,
    pub messages: Vec<Inbound>,
    pub credit: Credit,
}

impl Handler<FromClient> for DocumentActor {
    type Result = ();

    fn handle(&mut self, msg: FromClient, ctx: &mut Context<Self>) {
        if self.phase == Phase::Live {
            for m in msg.messages {
                self.handle_client(msg.session, m, ctx);
            }
        }
    }
}

/// The thread the document runs on. A new session moves there (`http::ws`), so a document and
/// its sessions share a thread: a broadcast then wakes no other thread.
#[derive(Message)]
#[rtype(result = "Result<Placement, DocError>")]
pub struct WhereDoYouRun;

#[derive(Clone)]
pub struct Placement {
    pub arbiter: ArbiterHandle,
    pub thread: std::thread::ThreadId,
}

impl Handler<WhereDoYouRun> for DocumentActor {
    type Result = Result<Placement, DocError>;

    fn handle(&mut self, _: WhereDoYouRun, _: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        Ok(Placement {
            arbiter: Arbiter::current(),
            thread: std::thread::current().id(),
        })
    }
}

/// Access check for a principal, creating the document for its account when `create` is set and
/// the document does not exist yet (a document belongs to the account that first opened it).
#[derive(Message)]
#[rtype(result = "Result<DocumentMeta, DocError>")]
pub struct Access {
    pub principal: Arc<Principal>,
    pub create: bool,
}

impl Handler<Access> for DocumentActor {
    type Result = AtomicResponse<Self, Result<DocumentMeta, DocError>>;

    fn handle(&mut self, msg: Access, _: &mut Context<Self>) -> Self::Result {
        let immediate = |r| AtomicResponse::new(Box::pin(fut::ready(r)));
        if let Err(e) = self.ready() {
            return immediate(Err(e));
        }
        if self.meta.is_some() || !msg.create {
            let r = self.check_owner(&msg.principal).cloned();
            let r = r.and_then(|m| {
                if msg.create && self.sessions.len() >= self.config.max_connections_per_document {
                    Err(DocError::TooManyConnections)
                } else {
                    Ok(m)
                }
            });
            return immediate(r);
        }
        let store = self.store.clone();
        let id = self.id.clone();
        let account = msg.principal.account.clone();
        // Atomic: no other message interleaves while the owner is being recorded.
        AtomicResponse::new(Box::pin(
            async move { store.claim(&id, &account).await }
                .into_actor(self)
                .map(move |result, act, _| {
                    let meta = result?;
                    act.meta = Some(meta);
                    act.check_owner(&msg.principal).cloned()
                }),
        ))
    }
}

/// A binary update from REST, validated and decoded by the handler: same rules as the socket,
/// except that an update that does not resolve is refused rather than parked. Answered once
/// durable.
#[derive(Message)]
#[rtype(result = "Result<oneshot::Receiver<Result<(), DocError>>, DocError>")]
pub struct ApplyUpdate {
    pub principal: Arc<Principal>,
    pub raw: Bytes,
    pub shape: UpdateShape,
    pub update: Update,
}

impl Handler<ApplyUpdate> for DocumentActor {
    type Result = Result<oneshot::Receiver<Result<(), DocError>>, DocError>;

    fn handle(&mut self, msg: ApplyUpdate, ctx: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        self.check_owner(&msg.principal)?;
        self.admit(&msg.principal, &msg.raw)?;
        let (tx, rx) = oneshot::channel();
        if !self.live.changes(&msg.shape, &msg.update) {
            let _ = tx.send(Ok(()));
            return Ok(rx);
        }
        self.live
            .take_now(&msg.shape)
            .map_err(|e| DocError::Unresolved(e.to_string()))?;
        self.enqueue(
            msg.raw,
            msg.update,
            Writer::Rest(tx),
            msg.principal.user.clone(),
            ctx,
        );
        self.take_ready(ctx);
        Ok(rx)
    }
}

/// The durable state as one binary Yjs update.
#[derive(Message)]
#[rtype(result = "Result<Bytes, DocError>")]
pub struct GetState {
    pub principal: Arc<Principal>,
}

impl Handler<GetState> for DocumentActor {
    type Result = Result<Bytes, DocError>;

    fn handle(&mut self, msg: GetState, _: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        self.check_owner(&msg.principal)?;
        Ok(self.encoded_state())
    }
}

#[derive(Message)]
#[rtype(result = "Result<DocInfo, DocError>")]
pub struct GetInfo {
    pub principal: Arc<Principal>,
}

impl Handler<GetInfo> for DocumentActor {
    type Result = Result<DocInfo, DocError>;

    fn handle(&mut self, msg: GetInfo, _: &mut Context<Self>) -> Self::Result {
        self.ready()?;
        let meta = self.check_owner(&msg.principal)?.clone();
        Ok(DocInfo {
            meta,
            live_sessions: self.sessions.len(),
            presence_states: self.live.presence().live_states(),
            approx_bytes: self.live.approx_bytes(),
            log_len: self.live.log_len(),
        })
    }
}

/// Server shutdown: close every socket with "going away", then answer once every accepted
/// update is durable.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Shutdown;

impl Handler<Shutdown> for DocumentActor {
    type Result = ResponseFuture<()>;

    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) -> Self::Result {
        let ids: Vec<SessionId> = self.sessions.keys().copied().collect();
        for id in ids {
            self.evict(id, close::GOING_AWAY, "shutdown");
        }
        if let Some(h) = self.idle_timer.take() {
            ctx.cancel_future(h);
        }
        if self.live.flushed() {
            return Box::pin(async {});
        }
        let (tx, rx) = oneshot::channel();
        self.flushed_waiters.push(tx);
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
