//! A message on the bus from another node (or anyone who can publish to Redis).

#![no_main]

use creo_core::envelope::{DocMessage, Envelope};
use creo_core::sync::update::{decode_checked, UpdateLimits};
use creo_core::sync::{decode_awareness, FrameLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(Envelope::Doc { message, .. }) = Envelope::decode(data) else {
        return;
    };
    let frame_limits = FrameLimits {
        max_awareness_entries: usize::MAX,
        ..FrameLimits::default()
    };
    match message {
        DocMessage::Updates(updates) => {
            for raw in updates {
                let _ = decode_checked(&raw, &UpdateLimits::default().trusted());
            }
        }
        DocMessage::Awareness(raw)
        | DocMessage::Hello {
            presence: Some(raw),
        }
        | DocMessage::Here {
            presence: Some(raw),
        } => {
            let _ = decode_awareness(&raw, &frame_limits);
        }
        _ => {}
    }
});
