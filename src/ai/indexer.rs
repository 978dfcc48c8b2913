//! `SearchIndexer`: keeps the search index current as documents change. Document actors tell it
//! when an update of theirs became durable; it waits until a document has been quiet for
//! `search_settle_ms` (re-embedding after edits settle, not on every keystroke), reads its
//! durable text from the store, and re-embeds it only if the text changed.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use sha2::{Digest, Sha256};

use super::index::SearchIndex;
use crate::gpu::{Input, Pool};
use crate::store::{now_ms, DocumentEmbedding, DocumentLog};
use crate::text::document_text;

/// The longest text embedded for a document (the model truncates further, at its max_length).
const MAX_TEXT_CHARS: usize = 4_000;

/// A document's update was stored.
#[derive(Message)]
#[rtype(result = "()")]
pub struct DocumentChanged {
    pub doc_id: Arc<str>,
    pub account_id: String,
}

pub struct SearchIndexer {
    store: Arc<dyn DocumentLog>,
    pool: Pool,
    index: Arc<SearchIndex>,
    settle: Duration,
    timeout: Duration,
    /// Document → (account, when it last changed).
    pending: HashMap<Arc<str>, (String, Instant)>,
    running: usize,
    max_running: usize,
}

impl SearchIndexer {
    pub fn new(
        store: Arc<dyn DocumentLog>,
        pool: Pool,
        index: Arc<SearchIndex>,
        settle: Duration,
        timeout: Duration,
    ) -> Self {
        SearchIndexer {
            store,
            pool,
            index,
            settle,
            timeout,
            pending: HashMap::new(),
            running: 0,
            max_running: 4,
        }
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        // Without the embedding model nothing can be indexed: do not read documents for nothing
        // (they are indexed on their next change once the model is there).
        if self.pool.unavailable().is_some() || !self.pool.has_model(self.index.model()) {
            self.pending.clear();
            return;
        }
        metrics::gauge!("creo_search_pending_documents").set(self.pending.len() as f64);
        let due: Vec<Arc<str>> = self
            .pending
            .iter()
            .filter(|(_, (_, at))| at.elapsed() >= self.settle)
            .map(|(doc, _)| doc.clone())
            .take(self.max_running.saturating_sub(self.running))
            .collect();
        for doc in due {
            let Some((account, _)) = self.pending.remove(&doc) else {
                continue;
            };
            self.running += 1;
            let (store, pool, index, timeout) = (
                self.store.clone(),
                self.pool.clone(),
                self.index.clone(),
                self.timeout,
            );
            let doc_id = doc.clone();
            async move { reindex(store, pool, index, &doc_id, account, timeout).await }
                .into_actor(self)
                .map(move |result, act, _| {
                    act.running -= 1;
                    match result {
                        Ok(true) => metrics::counter!("creo_search_indexed_total").increment(1),
                        Ok(false) => {}
                        Err(e) => {
                            metrics::counter!("creo_search_index_errors_total").increment(1);
                            tracing::debug!(doc = %doc, error = %e, "re-embedding a document failed; it waits for its next change");
                        }
                    }
                })
                .spawn(ctx);
        }
    }
}

/// Re-embeds one document if its stored text changed; whether it did.
async fn reindex(
    store: Arc<dyn DocumentLog>,
    pool: Pool,
    index: Arc<SearchIndex>,
    doc_id: &str,
    account_id: String,
    timeout: Duration,
) -> Result<bool, String> {
    let Some(stored) = store.load(doc_id).await.map_err(|e| e.to_string())? else {
        return Ok(false);
    };
    let text = tokio::task::spawn_blocking(move || stored.to_doc().map(|d| document_text(&d)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    let text: String = text.chars().take(MAX_TEXT_CHARS).collect();
    if text.trim().is_empty() {
        return Ok(false);
    }
    let hash = hex::encode(Sha256::digest(text.as_bytes()));
    let account = index
        .account(&account_id)
        .await
        .map_err(|e| e.to_string())?;
    if account.read().await.text_hash(doc_id) == Some(hash.as_str()) {
        return Ok(false);
    }
    let mut out = pool
        .infer(index.model(), vec![Input::Text(text)], timeout)
        .await
        .map_err(|e| e.to_string())?;
    let vector = out.pop().map(|o| o.vector).unwrap_or_default();
    index
        .put(DocumentEmbedding {
            account_id,
            doc_id: doc_id.to_string(),
            model: index.model().to_string(),
            vector,
            text_hash: hash,
            updated_at: now_ms(),
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(true)
}

impl Actor for SearchIndexer {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let every = (self.settle / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        ctx.run_interval(every, |act, ctx| act.tick(ctx));
    }
}

impl Handler<DocumentChanged> for SearchIndexer {
    type Result = ();

    fn handle(&mut self, msg: DocumentChanged, _: &mut Context<Self>) {
        // Each change pushes the document's deadline back: it is embedded once edits settle.
        self.pending
            .insert(msg.doc_id, (msg.account_id, Instant::now()));
    }
}
