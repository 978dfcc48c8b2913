//! Live actors by key on this node (a document id, an account id): at most one per key,
//! started on first use, forgotten when it stops unless a newer one already took its place.
//! The document registry and the account directory both keep theirs here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix::{Actor, Addr};

pub struct Keyed<A: Actor> {
    live: Mutex<HashMap<Arc<str>, Addr<A>>>,
}

impl<A: Actor> Default for Keyed<A> {
    fn default() -> Self {
        Keyed {
            live: Mutex::new(HashMap::new()),
        }
    }
}

impl<A: Actor> Keyed<A> {
    /// The key's running actor, or the one `start` starts (given the key) when there is none.
    pub fn get_or_start(&self, key: &str, start: impl FnOnce(Arc<str>) -> Addr<A>) -> Addr<A> {
        let mut live = self.live.lock().expect("keyed actors lock");
        if let Some(addr) = live.get(key) {
            if addr.connected() {
                return addr.clone();
            }
        }
        let key: Arc<str> = Arc::from(key);
        let addr = start(key.clone());
        live.insert(key, addr.clone());
        addr
    }

    /// The key's actor, if one is live.
    pub fn get(&self, key: &str) -> Option<Addr<A>> {
        self.live
            .lock()
            .expect("keyed actors lock")
            .get(key)
            .cloned()
    }

    /// Every live actor (a snapshot: actors may stop or start meanwhile).
    pub fn all(&self) -> Vec<Addr<A>> {
        let live = self.live.lock().expect("keyed actors lock");
        live.values().cloned().collect()
    }

    /// `addr` stopped: forget it, unless a newer actor already took its key.
    pub fn forget(&self, key: &str, addr: &Addr<A>) {
        let mut live = self.live.lock().expect("keyed actors lock");
        if live.get(key) == Some(addr) {
            live.remove(key);
        }
    }

    pub fn len(&self) -> usize {
        self.live.lock().expect("keyed actors lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
