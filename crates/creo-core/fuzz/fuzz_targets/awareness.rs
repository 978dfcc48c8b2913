//! Awareness updates from several sessions and another node: the presence table keeps its
//! per-session limit and never panics.

#![no_main]

use std::sync::Arc;
use std::time::Duration;

use creo_core::sync::awareness::Presence;
use creo_core::sync::{decode_awareness, FrameLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = FrameLimits::default();
    let mut presence = Presence::new(4, Duration::from_secs(30));
    let users: [Arc<str>; 2] = [Arc::from("a"), Arc::from("b")];
    for (i, chunk) in data.split(|b| *b == 0xff).enumerate() {
        let Ok(update) = decode_awareness(chunk, &limits) else {
            continue;
        };
        match i % 4 {
            3 => {
                presence.apply_remote(9, update);
            }
            n => {
                let session = n as u64 % 3;
                presence.apply(session, &users[n % 2], "editor", update);
            }
        }
    }
    let _ = presence.snapshot();
    for session in 0..3 {
        presence.remove_session(session);
    }
    presence.remove_node(9);
    assert_eq!(presence.live_states(), 0);
});
