//! A document's whole state as a `Doc`, validated before yrs decodes it. The work is in
//! proportion to the document: the server calls these off its async executor (its
//! `snapshot.rs`), once per request.

use yrs::{ClientID, Doc, OffsetKind, Options, ReadTxn, StateVector, Transact};

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
