//! A document's whole state as a `Doc`, built off the async executor.
//!
//! Decoding a state, folding a log or comparing versions takes time in proportion to the
//! document. On an HTTP worker that time would stall every other request the worker serves
//! (`/healthz` included), so request paths decode in the blocking pool (`off_executor`), once
//! per request, and pass the `Doc` to whatever needs it. The decoding itself is
//! `creo_core::snapshot`.

use std::sync::Arc;

use yrs::Doc;

use crate::store::{DocumentLog, StoreError};

pub use creo_core::snapshot::{decode, writable};

/// Runs whole-document work in the blocking pool and waits for it.
pub async fn off_executor<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(out) => out,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Rebuilds a stored document in the blocking pool and runs `read` on it there: for work that
/// has no live document to ask (jobs, debounced events). `None` when it does not exist.
pub async fn stored<T: Send + 'static>(
    store: &Arc<dyn DocumentLog>,
    doc_id: &str,
    read: impl FnOnce(&Doc) -> T + Send + 'static,
) -> Result<Option<T>, StoreError> {
    let Some(stored) = store.load(doc_id).await? else {
        return Ok(None);
    };
    off_executor(move || stored.to_doc().map(|doc| Some(read(&doc)))).await
}
