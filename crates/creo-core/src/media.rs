//! An account's media library: images and short videos as creo stored them, with what it
//! measured itself (type from the content, dimensions from decoding or `ffprobe`), never what
//! the uploader claimed. The bytes live in object storage under `key`; this is the row about
//! them.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Video,
}

/// One stored medium.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Medium {
    /// `med_…`.
    pub media_id: String,
    pub account_id: String,
    pub kind: MediaKind,
    /// Detected from the content: `image/png`, `image/jpeg`, `image/webp`, `image/gif`,
    /// `video/mp4`, `video/quicktime` or `video/webm`.
    pub content_type: String,
    /// The name it was uploaded under (for people and search; never a path).
    pub file_name: String,
    /// Size as stored (after metadata was stripped).
    pub bytes: u64,
    /// SHA-256 of the stored bytes, hex: its `ETag`.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    /// The decoded colour type of an image (`rgb8`, `rgba8`, `l8`, …), or a video's pixel
    /// format (`yuv420p`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub video_codec: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_codec: Option<String>,
    /// What was taken out of the upload before it was stored: `exif` (camera, GPS, personal
    /// tags), `xmp`, `iptc`, `comments`, `text` (PNG text chunks), `container` (a video's
    /// metadata), and `rotated` when the EXIF orientation was applied to the pixels.
    #[serde(default)]
    pub stripped: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alt_text: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Smaller copies made after the upload (`renditions` job): a thumbnail, sizes platforms
    /// take, and on tiers that watermark exports, the watermarked copy platforms are sent.
    #[serde(default)]
    pub renditions: Vec<Rendition>,
    /// Where the bytes are in object storage.
    pub key: String,
    pub uploaded_by: String,
    pub created_at: i64,
}

/// One smaller copy of a medium.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rendition {
    /// `thumb` (320 px on its long side), `large` (1,080), `xlarge` (2,048), or `export` (the
    /// watermarked copy, as large as `xlarge`).
    pub name: String,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub sha256: String,
    pub key: String,
}

impl Medium {
    pub fn rendition(&self, name: &str) -> Option<&Rendition> {
        self.renditions.iter().find(|r| r.name == name)
    }

    /// Whether `query` (lowercase words) finds it: each word in its file name, tags or alt text.
    pub fn matches(&self, words: &[String]) -> bool {
        let haystack = format!(
            "{} {} {}",
            self.file_name,
            self.tags.join(" "),
            self.alt_text.as_deref().unwrap_or_default()
        )
        .to_lowercase();
        words.iter().all(|w| haystack.contains(w.as_str()))
    }
}

/// The most tags one medium carries, and their length.
pub const MAX_TAGS: usize = 20;
pub const MAX_TAG_CHARS: usize = 50;
/// Alt text's length (what screen readers and platforms take comfortably).
pub const MAX_ALT_TEXT_CHARS: usize = 1_000;
/// A file name's length as kept.
pub const MAX_FILE_NAME_CHARS: usize = 200;

/// `name` as kept: its last path segment, control characters dropped, at most
/// `MAX_FILE_NAME_CHARS`; `upload` when nothing is left.
pub fn clean_file_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    match kept.trim() {
        "" | "." | ".." => "upload".to_string(),
        name => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_keeps_only_its_last_segment_and_no_control_characters() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\me\\photo.jpg"), "photo.jpg");
        assert_eq!(clean_file_name("bad\u{0}\nname.png"), "badname.png");
        assert_eq!(clean_file_name(".."), "upload");
        assert_eq!(clean_file_name(&"a".repeat(500)).len(), MAX_FILE_NAME_CHARS);
    }
}
