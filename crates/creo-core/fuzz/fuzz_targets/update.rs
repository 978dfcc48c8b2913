//! Any bytes as a Yjs update: the validator and yrs must agree, and what resolves against a
//! document integrates completely into it.

#![no_main]

use creo_core::sync::update::{validate, UpdateLimits};
use libfuzzer_sys::fuzz_target;
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, Text, Transact, Update};

fuzz_target!(|data: &[u8]| {
    let Ok(shape) = validate(data, &UpdateLimits::default()) else {
        return;
    };
    // Whatever the validator accepts, yrs decodes: the two read the same encoding.
    let update = Update::decode_v1(data).expect("validated updates decode");
    // A document with some content of its own (client 1), as a live one has.
    let doc = Doc::with_client_id(1);
    let text = doc.get_or_insert_text("t");
    text.insert(&mut doc.transact_mut(), 0, "existing text");
    let known = doc.transact().state_vector();
    if shape.resolve(&known).is_err() {
        return; // a document parks it; it is never applied unless it resolves
    }
    let mut txn = doc.transact_mut();
    let _ = txn.apply_update(update);
    assert!(!txn.has_missing_updates(), "resolved but pending");
    drop(txn);
    // The document still round-trips through its encoding.
    let state = doc
        .transact()
        .encode_state_as_update_v1(&Default::default());
    let again = Doc::new();
    again
        .transact_mut()
        .apply_update(Update::decode_v1(&state).expect("a document's state decodes"))
        .expect("and applies");
});
