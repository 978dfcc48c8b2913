//! Revocations as this node knows them: each account's list is read from the store once and
//! kept, so opening a socket or a document request does not read the store.
//!
//! A copy is dropped when a revocation in its account is made or lifted (on this node at once,
//! on the others when the bus brings the news), and every copy is dropped when the bus
//! reconnects (a message may have been lost meanwhile); while the bus is down the store is read
//! each time. Copies are also read again after `MAX_AGE`, which bounds what a message lost
//! without a reconnect could cost.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::bus::Bus;
use crate::store::{revocation_scope, RevocationStore, StoreError};

/// How long a copy is trusted without news.
const MAX_AGE: Duration = Duration::from_secs(10);
/// Past this many accounts, copies older than `MAX_AGE` are dropped when one is added.
const PRUNE_OVER: usize = 10_000;

pub struct RevocationCache {
    store: Arc<dyn RevocationStore>,
    bus: Arc<Bus>,
    accounts: Mutex<HashMap<String, Copy>>,
    /// Bumped by every `forget`: a read that began before one is not kept.
    forgotten: AtomicU64,
}

/// Each revoked user's scopes (a document id, or the whole account).
type Revoked = HashMap<String, HashSet<String>>;

struct Copy {
    revoked: Arc<Revoked>,
    read_at: Instant,
    bus_generation: u64,
}

impl RevocationCache {
    pub fn new(store: Arc<dyn RevocationStore>, bus: Arc<Bus>) -> RevocationCache {
        RevocationCache {
            store,
            bus,
            accounts: Mutex::default(),
            forgotten: AtomicU64::new(0),
        }
    }

    /// Whether `user` is barred from `doc_id` (by a revocation of it or of the account).
    pub async fn is_revoked(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: &str,
    ) -> Result<bool, StoreError> {
        let revoked = match self.cached(account_id) {
            Some(revoked) => revoked,
            None => self.read(account_id).await?,
        };
        Ok(revoked.get(user_id).is_some_and(|scopes| {
            scopes.contains(doc_id) || scopes.contains(revocation_scope(None))
        }))
    }

    /// An account's revocations changed: read them again next time.
    pub fn forget(&self, account_id: &str) {
        self.forgotten.fetch_add(1, Ordering::AcqRel);
        self.accounts
            .lock()
            .expect("revocations lock")
            .remove(account_id);
    }

    fn cached(&self, account_id: &str) -> Option<Arc<Revoked>> {
        let generation = self.bus.generation()?;
        let accounts = self.accounts.lock().expect("revocations lock");
        let copy = accounts.get(account_id)?;
        (copy.bus_generation == generation && copy.read_at.elapsed() < MAX_AGE)
            .then(|| copy.revoked.clone())
    }

    async fn read(&self, account_id: &str) -> Result<Arc<Revoked>, StoreError> {
        let forgotten = self.forgotten.load(Ordering::Acquire);
        let generation = self.bus.generation();
        let mut revoked = Revoked::new();
        for r in self.store.revocations(account_id).await? {
            let scope = revocation_scope(r.doc_id.as_deref()).to_string();
            revoked.entry(r.user_id).or_default().insert(scope);
        }
        let revoked = Arc::new(revoked);
        // Kept only if nothing was forgotten meanwhile and the bus was, and still is, connected.
        if let Some(generation) = generation {
            if self.forgotten.load(Ordering::Acquire) == forgotten
                && self.bus.generation() == Some(generation)
            {
                let mut accounts = self.accounts.lock().expect("revocations lock");
                if accounts.len() >= PRUNE_OVER {
                    accounts.retain(|_, c| c.read_at.elapsed() < MAX_AGE);
                }
                accounts.insert(
                    account_id.to_string(),
                    Copy {
                        revoked: revoked.clone(),
                        read_at: Instant::now(),
                        bus_generation: generation,
                    },
                );
            }
        }
        Ok(revoked)
    }
}
