//! The `document.updated` webhook event, debounced: a document being typed into changes many
//! times a second, and a receiver wants to hear once the edits settle. One event goes out when
//! a document has been quiet for `webhook_debounce_ms`, or at the latest ten times that long
//! after its first unreported change (so a document edited without pause still reports).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::{Actor, AsyncContext, Context, Handler};

use super::Events;
use crate::ai::indexer::DocumentChanged;

struct Pending {
    account_id: String,
    first: Instant,
    last: Instant,
}

pub struct UpdateDebouncer {
    events: Arc<Events>,
    quiet: Duration,
    pending: HashMap<Arc<str>, Pending>,
}

impl UpdateDebouncer {
    pub fn new(events: Arc<Events>, quiet: Duration) -> UpdateDebouncer {
        UpdateDebouncer {
            events,
            quiet: quiet.max(Duration::from_millis(10)),
            pending: HashMap::new(),
        }
    }

    fn flush(&mut self) {
        let now = Instant::now();
        let (quiet, longest) = (self.quiet, self.quiet * 10);
        let due: Vec<Arc<str>> = self
            .pending
            .iter()
            .filter(|(_, p)| now - p.last >= quiet || now - p.first >= longest)
            .map(|(doc, _)| doc.clone())
            .collect();
        for doc in due {
            let Some(p) = self.pending.remove(&doc) else {
                continue;
            };
            let events = self.events.clone();
            actix::spawn(async move {
                // The text is read only when someone wants it.
                let wanting = events.subscribed(&p.account_id, "document.updated").await;
                if wanting.is_empty() {
                    return;
                }
                let read = |d: &yrs::Doc| crate::text::document_text(d);
                let Ok(Some(text)) =
                    crate::snapshot::stored(&events.stores().documents, &doc, read).await
                else {
                    return;
                };
                let data = serde_json::json!({ "doc_id": &*doc, "text": text });
                events
                    .deliver(wanting, &p.account_id, Some(&doc), "document.updated", data)
                    .await;
            });
        }
    }
}

impl Actor for UpdateDebouncer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(self.quiet / 4, |act, _| act.flush());
    }
}

impl Handler<DocumentChanged> for UpdateDebouncer {
    type Result = ();

    fn handle(&mut self, msg: DocumentChanged, _: &mut Context<Self>) {
        let now = Instant::now();
        self.pending
            .entry(msg.doc_id)
            .and_modify(|p| p.last = now)
            .or_insert(Pending {
                account_id: msg.account_id,
                first: now,
                last: now,
            });
    }
}
