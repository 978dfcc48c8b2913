//! An uploaded image: what it is told from its first bytes, then checked and cleaned as the
//! upload does, then its renditions made as the renditions job does.

#![no_main]

use creo_core::media::MediaKind;
use creo_media::{detect, images, renditions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let head = &data[..data.len().min(detect::SNIFF_BYTES)];
    let Ok((content_type, MediaKind::Image)) = detect::detect(head) else {
        return;
    };
    let Ok(cleaned) = images::clean(data.to_vec(), content_type) else {
        return;
    };
    // What was kept must decode again (renditions read it back from storage).
    if cleaned.width.max(cleaned.height) <= 2_048 {
        renditions::render(&cleaned.bytes, true).expect("a cleaned image renders");
    }
});
