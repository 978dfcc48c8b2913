//! Uploading a medium. The body streams to a file of creo's own naming, never held whole; its
//! type is detected from its first bytes and an upload creo does not take is refused there,
//! before the rest is read; its size is held to the tier's limit as it arrives. Then it is
//! checked and cleaned (images on the blocking pool, videos with ffprobe and ffmpeg), counted
//! against the account's storage quota (atomically, so concurrent uploads at the edge never
//! exceed it), written to object storage, and recorded. Whatever fails on the way leaves
//! nothing stored and nothing counted.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::detect::{detect, SNIFF_BYTES};
use super::files::Files;
use super::{images, video};
use crate::store::{now_ms, Stores};
use creo_core::media::{clean_file_name, MediaKind, Medium};

/// The largest image decoded (its pixels are checked separately; see `images`).
pub const MAX_IMAGE_BYTES: u64 = 50 << 20;
/// Uploads streaming at once on a node (beyond: 503, try again), and of those, how many are
/// decoded or run through ffprobe and ffmpeg at once (the rest wait their turn).
pub const MAX_UPLOADS: usize = 16;
pub const MAX_PROCESSING: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("the upload is larger than the {limit} bytes this workspace's tier takes")]
    TooLarge { limit: u64 },
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    Invalid(String),
    #[error("the workspace's media take {used} of its {quota} bytes: this one does not fit")]
    StorageFull { used: u64, quota: u64 },
    #[error("the upload was cut off: {0}")]
    Interrupted(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("this server is taking {MAX_UPLOADS} uploads already: try again in a moment")]
    Busy,
}

/// Who uploads what, and the limits it is held to.
pub struct Upload {
    pub account_id: String,
    pub user_id: String,
    pub file_name: String,
    pub max_bytes: u64,
    pub quota: Option<u64>,
    /// The tier marks what is sent out (its export rendition carries the watermark).
    pub watermark: bool,
}

/// The media library's work: the stores for its rows, object storage for its bytes, and a
/// folder for uploads on their way.
#[derive(Clone)]
pub struct Library {
    pub stores: Stores,
    pub files: Files,
    pub incoming: PathBuf,
    /// Where the renditions job is queued.
    pub jobs: std::sync::Arc<crate::queue::JobQueue>,
    /// `MAX_UPLOADS` and `MAX_PROCESSING`.
    pub uploads: std::sync::Arc<tokio::sync::Semaphore>,
    pub processing: std::sync::Arc<tokio::sync::Semaphore>,
    /// Uploads that come in several requests (`resumable`).
    pub resumable: std::sync::Arc<super::resumable::Sessions>,
}

/// A file that is removed when dropped: an upload's or a job's temporary copies.
pub struct Temp(pub PathBuf);

impl Drop for Temp {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Watches an upload's bytes go by: refuses it as soon as its first bytes show a type creo does
/// not take, and as soon as it outgrows its limit (the tier's, or for an image, what is
/// decoded).
pub struct Sniffer {
    pub total: u64,
    limit: u64,
    head: Vec<u8>,
    detected: Option<(&'static str, MediaKind)>,
}

impl Sniffer {
    /// For an upload held to `limit` bytes.
    pub fn new(limit: u64) -> Sniffer {
        Sniffer {
            total: 0,
            limit,
            head: Vec::with_capacity(SNIFF_BYTES),
            detected: None,
        }
    }

    /// For an upload resumed at `offset`, whose first bytes (up to `SNIFF_BYTES`) are `head`.
    pub fn resuming(limit: u64, head: &[u8], offset: u64) -> Result<Sniffer, UploadError> {
        let mut sniffer = Sniffer::new(limit);
        sniffer.take(head)?;
        sniffer.total = offset;
        Ok(sniffer)
    }

    /// The type, once enough bytes came to tell.
    pub fn detected(&self) -> Option<(&'static str, MediaKind)> {
        self.detected
    }

    /// Counts `chunk`, the next bytes.
    pub fn take(&mut self, chunk: &[u8]) -> Result<(), UploadError> {
        self.total += chunk.len() as u64;
        if self.total > self.limit {
            return Err(UploadError::TooLarge { limit: self.limit });
        }
        if self.detected.is_none() {
            let wanted = SNIFF_BYTES - self.head.len();
            self.head
                .extend_from_slice(&chunk[..chunk.len().min(wanted)]);
            if self.head.len() == SNIFF_BYTES {
                self.detect()?;
            }
        }
        Ok(())
    }

    fn detect(&mut self) -> Result<(&'static str, MediaKind), UploadError> {
        let found = detect(&self.head).map_err(UploadError::Unsupported)?;
        // An image is held to what is decoded from here on, not to the tier's upload limit.
        if found.1 == MediaKind::Image {
            self.limit = self.limit.min(MAX_IMAGE_BYTES);
            if self.total > self.limit {
                return Err(UploadError::TooLarge { limit: self.limit });
            }
        }
        self.detected = Some(found);
        Ok(found)
    }

    /// What was sniffed once every byte is in.
    pub fn finish(&mut self) -> Result<(&'static str, MediaKind), UploadError> {
        if self.total == 0 {
            return Err(UploadError::Invalid("the upload is empty".into()));
        }
        match self.detected {
            Some(found) => Ok(found),
            None => self.detect(),
        }
    }
}

pub(super) fn unavailable(e: impl std::fmt::Display) -> UploadError {
    UploadError::Unavailable(e.to_string())
}

impl Library {
    /// A library over `stores` and `files`, its uploads on their way in `incoming` (emptied
    /// now: what a stopped process left there is of no upload any more).
    pub fn new(
        stores: Stores,
        files: Files,
        incoming: PathBuf,
        jobs: std::sync::Arc<crate::queue::JobQueue>,
        resumable: super::resumable::Sessions,
    ) -> Library {
        if let Ok(left) = std::fs::read_dir(&incoming) {
            for entry in left.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Library {
            stores,
            files,
            incoming,
            jobs,
            uploads: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_UPLOADS)),
            processing: std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_PROCESSING)),
            resumable: std::sync::Arc::new(resumable),
        }
    }

    /// Takes `body` whole, as one request: streamed to a file, then `finish`ed.
    pub async fn upload<S, E>(&self, up: Upload, body: S) -> Result<Medium, UploadError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let _slot = self.slot()?;
        let media_id = format!("med_{}", crate::auth::secret::id());
        tokio::fs::create_dir_all(&self.incoming)
            .await
            .map_err(unavailable)?;
        let received = Temp(self.incoming.join(format!("{media_id}.upload")));
        let mut file = tokio::fs::File::create(&received.0)
            .await
            .map_err(unavailable)?;
        let mut sniffer = Sniffer::new(up.max_bytes);
        let mut body = body;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| UploadError::Interrupted(e.to_string()))?;
            sniffer.take(&chunk)?;
            file.write_all(&chunk).await.map_err(unavailable)?;
        }
        file.flush().await.map_err(unavailable)?;
        drop(file);
        let (content_type, kind) = sniffer.finish()?;
        self.finish(&up, media_id, received, sniffer.total, content_type, kind)
            .await
    }

    /// One of the `MAX_UPLOADS` places for a body streaming in, or `Busy`.
    pub fn slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, UploadError> {
        self.uploads
            .clone()
            .try_acquire_owned()
            .map_err(|_| UploadError::Busy)
    }

    /// Checks and cleans the `total` bytes received in `received` (of the type sniffed from
    /// them), counts them against the quota, stores them as `media_id`, and queues their
    /// renditions. `received` is removed whatever happens.
    pub async fn finish(
        &self,
        up: &Upload,
        media_id: String,
        received: Temp,
        total: u64,
        content_type: &'static str,
        kind: MediaKind,
    ) -> Result<Medium, UploadError> {
        tokio::fs::create_dir_all(&self.incoming)
            .await
            .map_err(unavailable)?;
        let cleaned = Temp(self.incoming.join(format!("{media_id}.stored")));
        let mut medium = Medium {
            media_id: media_id.clone(),
            account_id: up.account_id.clone(),
            kind,
            content_type: content_type.to_string(),
            file_name: clean_file_name(&up.file_name),
            bytes: 0,
            sha256: String::new(),
            width: 0,
            height: 0,
            color: None,
            duration_ms: None,
            frame_rate: None,
            video_codec: None,
            audio_codec: None,
            stripped: Vec::new(),
            alt_text: None,
            tags: Vec::new(),
            renditions: Vec::new(),
            key: Files::key(&up.account_id, &media_id),
            uploaded_by: up.user_id.clone(),
            created_at: now_ms(),
        };
        let _turn = self.processing.acquire().await.map_err(unavailable)?;
        match kind {
            MediaKind::Image => {
                if total > MAX_IMAGE_BYTES {
                    return Err(UploadError::TooLarge {
                        limit: MAX_IMAGE_BYTES,
                    });
                }
                let bytes = tokio::fs::read(&received.0).await.map_err(unavailable)?;
                let done = tokio::task::spawn_blocking(move || images::clean(bytes, content_type))
                    .await
                    .map_err(unavailable)?
                    .map_err(|e| UploadError::Invalid(e.to_string()))?;
                // A turned image is re-encoded, and may come out larger than it went in.
                let kept = done.bytes.len() as u64;
                if kept > MAX_IMAGE_BYTES.min(up.max_bytes) {
                    return Err(UploadError::TooLarge {
                        limit: MAX_IMAGE_BYTES.min(up.max_bytes),
                    });
                }
                tokio::fs::write(&cleaned.0, &done.bytes)
                    .await
                    .map_err(unavailable)?;
                medium.width = done.width;
                medium.height = done.height;
                medium.color = Some(done.color);
                medium.stripped = done.stripped;
            }
            MediaKind::Video => {
                let probed = video::probe(&received.0).await.map_err(video_refusal)?;
                video::strip(&received.0, &cleaned.0, content_type)
                    .await
                    .map_err(video_refusal)?;
                medium.width = probed.width;
                medium.height = probed.height;
                medium.color = probed.pixel_format;
                medium.duration_ms = Some(probed.duration_ms);
                medium.frame_rate = probed.frame_rate;
                medium.video_codec = Some(probed.video_codec);
                medium.audio_codec = probed.audio_codec;
                medium.stripped = vec!["container".to_string()];
            }
        }
        drop(_turn);
        drop(received);
        let (bytes, sha256) = digest(&cleaned.0).await.map_err(unavailable)?;
        medium.bytes = bytes;
        medium.sha256 = sha256;
        // Kept to the end even if the client goes away: a reservation made is settled, one way
        // or the other, never left counted for bytes that were not stored.
        let (library, kept, path, quota) =
            (self.clone(), medium.clone(), cleaned.0.clone(), up.quota);
        tokio::spawn(async move { library.keep(&kept, &path, quota).await })
            .await
            .map_err(unavailable)??;
        // Images get smaller copies (and the watermarked export); videos, thumbnails of a frame.
        self.render_later(&medium, up.watermark && kind == MediaKind::Image)
            .await;
        Ok(medium)
    }

    /// Queues `medium`'s renditions (once: the job's id is the medium's). When the queue does
    /// not take it, asking for the watermarked export queues it again.
    pub async fn render_later(&self, medium: &Medium, watermark: bool) {
        let job = crate::jobs::Job {
            id: format!("renditions-{}", medium.media_id),
            kind: crate::jobs::JobKind::Renditions {
                account_id: medium.account_id.clone(),
                media_id: medium.media_id.clone(),
                watermark,
            },
            not_before: now_ms(),
            attempt: 0,
        };
        if let Err(e) = self.jobs.enqueue(&job).await {
            tracing::warn!(media = %medium.media_id, error = %e, "renditions not queued");
        }
    }

    /// Counts `medium` against the quota, then writes its bytes and its row; undoes what was
    /// done when a later step fails.
    async fn keep(
        &self,
        medium: &Medium,
        from: &Path,
        quota: Option<u64>,
    ) -> Result<(), UploadError> {
        let media = &self.stores.media;
        if !media
            .reserve_storage(&medium.account_id, medium.bytes, quota)
            .await
            .map_err(unavailable)?
        {
            let used = media
                .storage_used(&medium.account_id)
                .await
                .map_err(unavailable)?;
            return Err(UploadError::StorageFull {
                used,
                quota: quota.unwrap_or(u64::MAX),
            });
        }
        let stored = match self.files.put_file(&medium.key, from).await {
            Ok(()) => media.put_medium(medium).await.map_err(unavailable),
            Err(e) => Err(unavailable(e)),
        };
        if let Err(e) = stored {
            let _ = self.files.delete(&medium.key).await;
            if let Err(lost) = media
                .release_storage(&medium.account_id, medium.bytes)
                .await
            {
                tracing::error!(account = %medium.account_id, bytes = medium.bytes, error = %lost,
                    "an upload's reservation could not be given back: the account's storage counts it");
            }
            return Err(e);
        }
        Ok(())
    }
}

fn video_refusal(e: video::Refused) -> UploadError {
    match e {
        video::Refused::Tool(why) => UploadError::Unavailable(why),
        other => UploadError::Invalid(other.to_string()),
    }
}

/// The size and SHA-256 (hex) of the file at `path`, read a piece at a time.
async fn digest(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut hash = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buffer).await?;
        if n == 0 {
            break;
        }
        hash.update(&buffer[..n]);
        total += n as u64;
    }
    Ok((total, hex::encode(hash.finalize())))
}
