//! What an upload is, from its first bytes (the `infer` crate's signatures), never from its
//! name or the `Content-Type` it came with: a `.png` that is a ZIP is refused as a ZIP.

use creo_core::media::MediaKind;

/// How many leading bytes detection needs (every signature creo takes fits in them).
pub const SNIFF_BYTES: usize = 512;

/// The types creo stores, by what detection calls them.
const TAKEN: [(&str, MediaKind); 7] = [
    ("image/png", MediaKind::Image),
    ("image/jpeg", MediaKind::Image),
    ("image/webp", MediaKind::Image),
    ("image/gif", MediaKind::Image),
    ("video/mp4", MediaKind::Video),
    ("video/quicktime", MediaKind::Video),
    ("video/webm", MediaKind::Video),
];

/// The detected type of content starting with `head`, if creo takes it; otherwise what it is
/// (for the refusal).
pub fn detect(head: &[u8]) -> Result<(&'static str, MediaKind), String> {
    let Some(found) = infer::get(head) else {
        return Err("its content is no image or video creo knows".into());
    };
    TAKEN
        .iter()
        .find(|(mime, _)| *mime == found.mime_type())
        .map(|(mime, kind)| (*mime, *kind))
        .ok_or_else(|| {
            format!(
                "its content is {} ({}), not an image (PNG, JPEG, WebP, GIF) or a video (MP4, MOV, WebM)",
                found.mime_type(),
                found.extension()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_content_decides_not_the_name() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(detect(png).unwrap().0, "image/png");
        let zip = b"PK\x03\x04\x14\0\0\0\x08\0";
        assert!(detect(zip).unwrap_err().contains("application/zip"));
        assert!(detect(b"just some text").is_err());
        let mp4 = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom";
        assert_eq!(detect(mp4).unwrap(), ("video/mp4", MediaKind::Video));
    }
}
