//! A document's whole state as a `Doc`: decoded once per request, validated first, and built
//! off the async executor.
//!
//! Decoding a state, folding a log or comparing versions takes time in proportion to the
//! document. On an HTTP worker that time would stall every other request the worker serves
//! (`/healthz` included), so request paths decode in the blocking pool (`off_executor`), once
//! per request, and pass the `Doc` to whatever needs it.

use std::sync::Arc;

use yrs::{ClientID, Doc, OffsetKind, Options, ReadTxn, StateVector, Transact};

use crate::store::{DocumentStore, StoreError};
use crate::sync::update::{decode_checked, UpdateLimits};

/// Decodes a whole state (the live document's or a stored one). Offsets count UTF-16 units
/// with `OffsetKind::Utf16` (the JavaScript clients' positions), bytes otherwise.
pub fn decode(state: &[u8], offsets: OffsetKind) -> Result<Doc, String> {
    decode_with(
        state,
        Options {
            offset_kind: offsets,
            ..Options::default()
        },
    )
}

fn decode_with(state: &[u8], options: Options) -> Result<Doc, String> {
    // Written by this server, but possibly before it bounded nesting: checked like any input.
    let limits = UpdateLimits::default().trusted();
    let (_, update) = decode_checked(state, &limits).map_err(|e| e.to_string())?;
    let doc = Doc::with_options(options);
    doc.transact_mut()
        .apply_update(update)
        .map_err(|e| e.to_string())?;
    Ok(doc)
}

/// `state` in a document that writes as `client`, and its state vector before any change (what
/// the edit made on it is encoded against).
pub fn writable(state: &[u8], client: ClientID) -> Result<(Doc, StateVector), String> {
    let doc = decode_with(
        state,
        Options {
            client_id: client,
            ..Options::default()
        },
    )?;
    let before = doc.transact().state_vector();
    Ok((doc, before))
}

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
    store: &Arc<dyn DocumentStore>,
    doc_id: &str,
    read: impl FnOnce(&Doc) -> T + Send + 'static,
) -> Result<Option<T>, StoreError> {
    let Some(stored) = store.load(doc_id).await? else {
        return Ok(None);
    };
    off_executor(move || stored.to_doc().map(|doc| Some(read(&doc)))).await
}
