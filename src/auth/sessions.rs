//! Whether a login session is still live, checked on every request made with its access token,
//! so logging out, revoking a lost device's session or a detected refresh-token reuse takes
//! effect at once instead of when the 15-minute access token expires. Answers are cached for
//! `session_check_ms`; a revocation is announced on the bus and marks the session revoked on
//! every node immediately (and closes its sockets).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::store::LoginSessionStore;
use crate::store::StoreError;

pub struct SessionGate {
    store: Arc<dyn LoginSessionStore>,
    /// Session id → (live, when that was learned).
    known: Mutex<HashMap<Arc<str>, (bool, Instant)>>,
    /// How long a "live" answer is trusted without asking the store again.
    recheck: Duration,
    /// How long a "revoked" answer is kept (no access token outlives it).
    remember_revoked: Duration,
}

/// Past this many cached sessions, expired entries are swept before inserting.
const SWEEP_AT: usize = 100_000;

impl SessionGate {
    pub fn new(store: Arc<dyn LoginSessionStore>, recheck: Duration, access_ttl: Duration) -> Self {
        SessionGate {
            store,
            known: Mutex::new(HashMap::new()),
            recheck,
            remember_revoked: access_ttl + Duration::from_secs(60),
        }
    }

    fn cached(&self, session: &str) -> Option<bool> {
        let known = self.known.lock().expect("sessions lock");
        let (live, at) = known.get(session)?;
        let fresh = if *live {
            at.elapsed() < self.recheck
        } else {
            at.elapsed() < self.remember_revoked
        };
        fresh.then_some(*live)
    }

    fn remember(&self, session: &Arc<str>, live: bool) {
        let mut known = self.known.lock().expect("sessions lock");
        if known.len() >= SWEEP_AT {
            let (recheck, revoked) = (self.recheck, self.remember_revoked);
            known.retain(|_, (live, at)| at.elapsed() < if *live { recheck } else { revoked });
        }
        known.insert(session.clone(), (live, Instant::now()));
    }

    /// Whether `user`'s session `session` may still act.
    pub async fn is_live(&self, user: &str, session: &Arc<str>) -> Result<bool, StoreError> {
        if let Some(live) = self.cached(session) {
            return Ok(live);
        }
        let live = self
            .store
            .session(user, session)
            .await?
            .is_some_and(|s| !s.revoked);
        self.remember(session, live);
        Ok(live)
    }

    /// The session was revoked (here or on another node).
    pub fn revoked(&self, session: &str) {
        self.remember(&Arc::from(session), false);
    }
}
