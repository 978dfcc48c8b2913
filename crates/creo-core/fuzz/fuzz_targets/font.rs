//! An uploaded brand font file, checked as the upload does.
//!
//! One panic is expected and told apart: ttf-parser 0.25's debug-only assertion in
//! `Stream::read_bytes` (a table count pointing past 4 GiB; release builds refuse the read, and
//! `fonts::check` refuses the font in every build). Any other panic aborts as usual.

#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;

static HOOK: Once = Once::new();

fn known(info: &std::panic::PanicHookInfo) -> bool {
    info.location()
        .is_some_and(|l| l.file().ends_with("ttf-parser-0.25.1/src/parser.rs"))
}

fuzz_target!(|data: &[u8]| {
    HOOK.call_once(|| {
        let abort_on_others = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !known(info) {
                abort_on_others(info);
            }
        }));
    });
    let _ = creo_media::fonts::check(data);
});
