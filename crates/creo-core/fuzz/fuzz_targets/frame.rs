//! A WebSocket frame from a client, through everything a session and its document do with it.

#![no_main]

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use creo_core::sync::awareness::Presence;
use creo_core::sync::{decode_frame, FrameLimits, Inbound};
use libfuzzer_sys::fuzz_target;
use yrs::{Doc, ReadTxn, Transact};

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    let Ok(messages) = decode_frame(&frame, true, &FrameLimits::default()) else {
        return;
    };
    let doc = Doc::new();
    let mut presence = Presence::new(8, Duration::from_secs(30));
    let user: Arc<str> = Arc::from("fuzz");
    for msg in messages {
        match msg {
            Inbound::SyncStep1(sv) => {
                let _ = doc.transact().encode_diff_v1(&sv);
            }
            Inbound::Update(u) => {
                // A document applies only what resolves (the rest waits, parked, and is never
                // applied if it never resolves), and that never leaves yrs waiting.
                let known = doc.transact().state_vector();
                if u.shape.resolve(&known).is_ok() {
                    let mut txn = doc.transact_mut();
                    let _ = txn.apply_update(u.update);
                    assert!(!txn.has_missing_updates(), "resolved but pending");
                    drop(txn);
                    let _ = doc
                        .transact()
                        .encode_state_as_update_v1(&Default::default());
                }
            }
            Inbound::Awareness(a) => {
                presence.apply(1, &user, "editor", a);
            }
            _ => {}
        }
    }
});
