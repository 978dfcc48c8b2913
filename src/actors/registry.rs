//! Finds or starts the `DocumentActor` of a document, and retries requests that reach an actor
//! in the middle of unloading so that nobody ever talks to a stale or dead actor.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix::dev::ToEnvelope;
use actix::prelude::*;

use super::document::{
    Access, ChangeRole, CloseSession, CloseUnenrolled, DocError, DocumentActor, Home, Placement,
    Revoke, Shutdown, WhereDoYouRun,
};
use super::keyed::Keyed;
use crate::auth::Principal;
use crate::bus::Bus;
use crate::config::Config;
use crate::store::Revocation;
use crate::store::{DocumentLog, DocumentMeta, StoreHealth};

/// How often a request is retried while the document it targets is unloading.
const MAX_ATTEMPTS: usize = 200;
const RETRY_DELAY: Duration = Duration::from_millis(5);

pub struct DocumentRegistry {
    live: Keyed<DocumentActor>,
    store: Arc<dyn DocumentLog>,
    config: Arc<Config>,
    health: Arc<StoreHealth>,
    bus: Arc<Bus>,
    /// Dedicated document threads, documents spread over them; when empty, a document runs on
    /// the thread of whoever opened it (an HTTP worker), beside that connection's session.
    arbiters: Vec<ArbiterHandle>,
    next: AtomicUsize,
    /// Told when a document's update became durable (the search indexer), once it is started.
    changes: Mutex<Vec<Recipient<crate::ai::indexer::DocumentChanged>>>,
}

impl DocumentRegistry {
    pub fn new(
        store: Arc<dyn DocumentLog>,
        config: Arc<Config>,
        health: Arc<StoreHealth>,
        bus: Arc<Bus>,
        arbiters: Vec<ArbiterHandle>,
    ) -> Arc<Self> {
        Arc::new(DocumentRegistry {
            live: Keyed::default(),
            store,
            config,
            health,
            bus,
            arbiters,
            next: AtomicUsize::new(0),
            changes: Mutex::default(),
        })
    }

    fn get_or_start(self: &Arc<Self>, doc_id: &str) -> Addr<DocumentActor> {
        self.live.get_or_start(doc_id, |id| self.start(id))
    }

    fn start(self: &Arc<Self>, id: Arc<str>) -> Addr<DocumentActor> {
        let arbiter = if self.arbiters.is_empty() {
            Arbiter::current()
        } else {
            self.arbiters[self.next.fetch_add(1, Ordering::Relaxed) % self.arbiters.len()].clone()
        };
        let (store, config, health, registry, bus) = (
            self.store.clone(),
            self.config.clone(),
            self.health.clone(),
            self.clone(),
            self.bus.clone(),
        );
        DocumentActor::start_in_arbiter(&arbiter, move |_| {
            DocumentActor::new(id, store, config, health, registry as Arc<dyn Home>, bus)
        })
    }

    /// Sends a message to the document's live actor, starting one if needed. An actor that is
    /// unloading answers `Unloading` (or is already gone); the request is then retried against
    /// the fresh actor that replaces it, which loads everything the old one flushed.
    pub async fn ask<M, R>(
        self: &Arc<Self>,
        doc_id: &str,
        make: impl Fn() -> M,
    ) -> Result<R, DocError>
    where
        M: Message<Result = Result<R, DocError>> + Send + 'static,
        R: Send + 'static,
        DocumentActor: Handler<M>,
        <DocumentActor as Actor>::Context: ToEnvelope<DocumentActor, M>,
    {
        self.ask_addr(doc_id, make).await.map(|(r, _)| r)
    }

    /// May `principal` open the document? With `create`, a document that does not exist yet is
    /// created for the principal's account.
    pub async fn access(
        self: &Arc<Self>,
        doc_id: &str,
        principal: &Arc<Principal>,
        create: bool,
    ) -> Result<DocumentMeta, DocError> {
        self.ask(doc_id, || Access {
            principal: principal.clone(),
            create,
        })
        .await
    }

    /// Where the document runs (see `WhereDoYouRun`); `None` if it could not say.
    pub async fn placement(self: &Arc<Self>, doc_id: &str) -> Option<Placement> {
        self.ask(doc_id, || WhereDoYouRun).await.ok()
    }

    /// `ask`, also returning the actor that answered (a session keeps talking to it).
    pub async fn ask_addr<M, R>(
        self: &Arc<Self>,
        doc_id: &str,
        make: impl Fn() -> M,
    ) -> Result<(R, Addr<DocumentActor>), DocError>
    where
        M: Message<Result = Result<R, DocError>> + Send + 'static,
        R: Send + 'static,
        DocumentActor: Handler<M>,
        <DocumentActor as Actor>::Context: ToEnvelope<DocumentActor, M>,
    {
        for _ in 0..MAX_ATTEMPTS {
            let addr = self.get_or_start(doc_id);
            match addr.send(make()).await {
                Ok(Err(DocError::Unloading)) | Err(_) => {
                    self.remove_if_stopped(doc_id, &addr);
                    actix_rt::time::sleep(RETRY_DELAY).await;
                }
                Ok(result) => return result.map(|r| (r, addr)),
            }
        }
        Err(DocError::Unloading)
    }

    fn remove_if_stopped(&self, doc_id: &str, addr: &Addr<DocumentActor>) {
        if !addr.connected() {
            self.stopped(doc_id, addr);
        }
    }

    /// Closes the revoked user's sessions in the live documents of this node.
    pub fn revoke(&self, r: &Revocation) {
        let targets = match &r.doc_id {
            Some(doc) => self.live.get(doc).into_iter().collect(),
            None => self.live.all(),
        };
        for addr in targets {
            addr.do_send(Revoke {
                account: r.account_id.clone(),
                user: r.user_id.clone(),
            });
        }
    }

    /// Gives `user`'s open sessions in `account` their new role (closing them when `None`).
    pub fn change_role(&self, account: &str, user: &str, role: Option<crate::auth::Role>) {
        for addr in self.live.all() {
            addr.do_send(ChangeRole {
                account: account.to_string(),
                user: user.to_string(),
                role,
            });
        }
    }

    /// Closes the sockets `users` opened in `account` with a login session: the account now
    /// requires a second factor they do not have.
    pub fn require_second_factor(&self, account: &str, users: Vec<String>) {
        let users: Arc<[String]> = users.into();
        for addr in self.live.all() {
            addr.do_send(CloseUnenrolled {
                account: account.to_string(),
                users: users.clone(),
            });
        }
    }

    /// A deleted document closes its sockets here and leaves memory.
    pub fn deleted(&self, doc_id: &str) {
        self.notify(doc_id, crate::actors::document::Deleted);
    }

    /// Closes the sockets opened with a revoked login session's tokens.
    pub fn close_session(&self, session: &str) {
        for addr in self.live.all() {
            addr.do_send(CloseSession {
                session: session.to_string(),
            });
        }
    }

    /// Sends a message to the document's actor if it is live here (nothing happens otherwise).
    pub fn notify<M>(&self, doc_id: &str, msg: M)
    where
        M: Message<Result = ()> + Send + 'static,
        DocumentActor: Handler<M>,
        <DocumentActor as Actor>::Context: ToEnvelope<DocumentActor, M>,
    {
        if let Some(addr) = self.live.get(doc_id) {
            addr.do_send(msg);
        }
    }

    /// Adds a listener for document changes (at startup: the search indexer, the webhooks'
    /// `document.updated` debouncer).
    pub fn report_changes_to(&self, to: Recipient<crate::ai::indexer::DocumentChanged>) {
        self.changes.lock().expect("changes lock").push(to);
    }

    pub fn live_documents(&self) -> usize {
        self.live.len()
    }

    /// Closes every socket with "going away" and waits until every document is flushed.
    pub async fn shutdown(&self, timeout: Duration) {
        let addrs = self.live.all();
        let flushes = addrs.iter().map(|a| a.send(Shutdown));
        if actix_rt::time::timeout(timeout, futures_util::future::join_all(flushes))
            .await
            .is_err()
        {
            tracing::error!("some documents did not flush before the shutdown timeout");
        }
    }
}

impl Home for DocumentRegistry {
    fn changed(&self, doc_id: &Arc<str>, account_id: &str) {
        for to in self.changes.lock().expect("changes lock").iter() {
            to.do_send(crate::ai::indexer::DocumentChanged {
                doc_id: doc_id.clone(),
                account_id: account_id.to_string(),
            });
        }
    }

    fn stopped(&self, doc_id: &str, addr: &Addr<DocumentActor>) {
        self.live.forget(doc_id, addr);
    }
}
