//! Per-person live feeds: what reaches a signed-in person's open inbox streams at once (a new
//! notification, their unread count). Each node keeps its own subscribers; in cluster mode a
//! message for a person is published once on the node channel and every node hands it to that
//! person's subscribers there (`Bus::to_person`).
//!
//! A feed is a hint, never the record: the inbox in the store is. So every queue is bounded, and
//! a subscriber that cannot keep up is dropped (its stream ends; the editor reconnects and reads
//! its count again) rather than buffered without bound.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

/// Messages one subscriber may have waiting before it is dropped.
const QUEUE: usize = 64;

#[derive(Default)]
pub struct Inboxes {
    next: AtomicU64,
    /// Person → their subscribers on this node.
    feeds: Mutex<HashMap<String, Vec<(u64, mpsc::Sender<Arc<str>>)>>>,
}

/// One open stream's subscription; dropping it unsubscribes.
pub struct Feed {
    inboxes: Arc<Inboxes>,
    user: String,
    id: u64,
    pub messages: mpsc::Receiver<Arc<str>>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        let mut feeds = self.inboxes.feeds.lock().expect("inbox feeds");
        if let Some(subs) = feeds.get_mut(&self.user) {
            subs.retain(|(id, _)| *id != self.id);
            if subs.is_empty() {
                feeds.remove(&self.user);
            }
        }
        metrics::gauge!("creo_inbox_streams").decrement(1.0);
    }
}

impl Inboxes {
    /// Subscribes to `user`'s messages; `None` when they already have `max_per_user` open.
    pub fn subscribe(self: &Arc<Self>, user: &str, max_per_user: usize) -> Option<Feed> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let mut feeds = self.feeds.lock().expect("inbox feeds");
        let subs = feeds.entry(user.to_string()).or_default();
        subs.retain(|(_, tx)| !tx.is_closed());
        if subs.len() >= max_per_user {
            return None;
        }
        subs.push((id, tx));
        metrics::gauge!("creo_inbox_streams").increment(1.0);
        Some(Feed {
            inboxes: self.clone(),
            user: user.to_string(),
            id,
            messages: rx,
        })
    }

    /// Hands `message` to `user`'s subscribers on this node. One that is full is dropped (its
    /// stream ends and the editor reconnects), so nobody's queue grows without bound.
    pub fn deliver(&self, user: &str, message: &Arc<str>) {
        let mut feeds = self.feeds.lock().expect("inbox feeds");
        let Some(subs) = feeds.get_mut(user) else {
            return;
        };
        subs.retain(|(_, tx)| match tx.try_send(message.clone()) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::counter!("creo_inbox_streams_dropped_total", "reason" => "slow")
                    .increment(1);
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        metrics::counter!("creo_inbox_messages_total").increment(subs.len() as u64);
        if subs.is_empty() {
            feeds.remove(user);
        }
    }

    /// Ends every stream: their senders go, so each stream reads its end.
    pub fn close_all(&self) {
        self.feeds.lock().expect("inbox feeds").clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_slow_subscriber_is_dropped_and_the_others_still_hear() {
        let inboxes = Arc::new(Inboxes::default());
        let mut fast = inboxes.subscribe("u", 4).unwrap();
        let mut slow = inboxes.subscribe("u", 4).unwrap();
        let m: Arc<str> = Arc::from("{}");
        for _ in 0..QUEUE {
            inboxes.deliver("u", &m);
            fast.messages.recv().await.unwrap();
        }
        inboxes.deliver("u", &m);
        assert!(fast.messages.recv().await.is_some(), "the fast one hears");
        for _ in 0..QUEUE {
            slow.messages.recv().await.unwrap();
        }
        assert!(
            slow.messages.recv().await.is_none(),
            "the slow one's stream ended instead of growing"
        );
    }

    #[test]
    fn streams_per_person_are_bounded_and_freed_on_drop() {
        let inboxes = Arc::new(Inboxes::default());
        let a = inboxes.subscribe("u", 2).unwrap();
        let _b = inboxes.subscribe("u", 2).unwrap();
        assert!(inboxes.subscribe("u", 2).is_none());
        assert!(inboxes.subscribe("v", 2).is_some(), "per person");
        drop(a);
        assert!(inboxes.subscribe("u", 2).is_some());
    }
}
