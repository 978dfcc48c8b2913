//! Images the fuzzer found (`crates/creo-core/fuzz`, target `image`): each must be either
//! refused by the upload's checks, or stored as something the renditions job can render.

use creo_core::media::MediaKind;
use creo_media::{detect, images, renditions};

fn stored_images_render(path: &str) {
    let data = std::fs::read(format!(
        "{}/tests/images/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let head = &data[..data.len().min(detect::SNIFF_BYTES)];
    let (content_type, kind) = detect::detect(head).unwrap();
    assert_eq!(kind, MediaKind::Image);
    if let Ok(cleaned) = images::clean(data.clone(), content_type) {
        renditions::render(&cleaned.bytes, true)
            .unwrap_or_else(|e| panic!("{path} was stored but does not render: {e}"));
    }
}

/// A GIF whose screen is 0 wide decoded to no pixels, was stored, and its renditions job then
/// failed on every try ("Zero width not allowed"). Now the upload refuses it.
#[test]
fn a_gif_zero_pixels_wide_is_refused() {
    stored_images_render("gif-zero-wide.gif");
    let data = std::fs::read(format!(
        "{}/tests/images/gif-zero-wide.gif",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let refused = images::clean(data, "image/gif").err().expect("refused");
    assert!(refused.to_string().contains("no pixels"), "{refused}");
}

/// A JPEG that decodes as it came, but whose second frame header is all the decoder sees once
/// the EXIF is cut out: stored so, its renditions failed on every try. Now it is decoded as it
/// came and encoded afresh.
#[test]
fn a_jpeg_that_stops_decoding_once_its_exif_is_cut_is_encoded_afresh() {
    stored_images_render("jpeg-two-frame-headers.jpg");
    let data = std::fs::read(format!(
        "{}/tests/images/jpeg-two-frame-headers.jpg",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let cleaned = images::clean(data, "image/jpeg").expect("taken");
    assert!(
        cleaned.stripped.contains(&"reencoded".to_string()),
        "{:?}",
        cleaned.stripped
    );
}
