//! The `renditions` job: a stored image's smaller copies, or a video's thumbnails from one of
//! its frames, made on the blocking pool, written to object storage beside it, and listed on
//! its row. Queued by the upload; a redelivered job
//! finds the renditions listed and does nothing twice.

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};

use super::{Job, JobKind, Outcome};
use crate::media::library::Temp;
use crate::media::renditions::{self, Made};
use crate::media::Library;
use creo_core::media::{MediaKind, Medium, Rendition};

pub struct Renderer {
    pub media: Library,
}

/// The most of an original read to render it (uploads of images are held to 50 MB).
const MAX_ORIGINAL: usize = 64 << 20;

impl Renderer {
    /// An image's smaller copies, and with `watermark` its export.
    async fn image_renditions(
        &self,
        medium: &Medium,
        watermark: bool,
    ) -> Result<Vec<Made>, Outcome> {
        let original = match self.media.files.read(&medium.key, None).await {
            Ok(read) if read.size as usize <= MAX_ORIGINAL => read
                .bytes
                .try_fold(Vec::new(), |mut all, chunk| async move {
                    all.extend_from_slice(&chunk);
                    Ok(all)
                })
                .await
                .map_err(|e| Outcome::Retry(e.to_string()))?,
            Ok(read) => {
                return Err(Outcome::Fail(format!(
                    "the original is {} bytes",
                    read.size
                )))
            }
            Err(e) => return Err(Outcome::Retry(e.to_string())),
        };
        blocking(move || renditions::render(&original, watermark)).await
    }

    /// A video's thumbnails, from the frame a second in (or halfway through a shorter one): the
    /// video is copied from storage to a local file (streamed), and `ffmpeg` takes the frame
    /// under the same limits as at upload, one of `MAX_PROCESSING` at a time.
    async fn video_thumbnails(&self, medium: &Medium) -> Result<Vec<Made>, Outcome> {
        let retry = |e: &dyn std::fmt::Display| Outcome::Retry(e.to_string());
        let incoming = &self.media.incoming;
        tokio::fs::create_dir_all(incoming)
            .await
            .map_err(|e| retry(&e))?;
        let video = Temp(incoming.join(format!("{}.render", medium.media_id)));
        let still = Temp(incoming.join(format!("{}.frame.png", medium.media_id)));
        self.media
            .files
            .get_file(&medium.key, &video.0)
            .await
            .map_err(|e| retry(&e))?;
        let at = medium.duration_ms.map_or(0, |d| (d / 2).min(1_000));
        {
            let _turn = self
                .media
                .processing
                .acquire()
                .await
                .map_err(|e| retry(&e))?;
            crate::media::video::frame(&video.0, &still.0, at)
                .await
                .map_err(|e| match e {
                    crate::media::video::Refused::Tool(why) => Outcome::Retry(why),
                    other => Outcome::Fail(other.to_string()),
                })?;
        }
        let png = tokio::fs::read(&still.0).await.map_err(|e| retry(&e))?;
        blocking(move || renditions::render_frame(&png)).await
    }

    pub async fn run(&self, job: &Job) -> Outcome {
        let JobKind::Renditions {
            account_id,
            media_id,
            watermark,
        } = &job.kind
        else {
            return Outcome::Fail("not a renditions job".into());
        };
        let stores = &self.media.stores;
        let medium = match stores.media.medium(account_id, media_id).await {
            Ok(Some(m)) => m,
            // Deleted meanwhile.
            Ok(None) => return Outcome::Done,
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        // Done already, unless the watermarked export is asked for and missing (the workspace
        // moved to a tier that marks its exports).
        let missing_export = *watermark && medium.rendition("export").is_none();
        if !medium.renditions.is_empty() && !missing_export {
            return Outcome::Done;
        }
        let have: Vec<String> = medium.renditions.iter().map(|r| r.name.clone()).collect();
        let made = match medium.kind {
            MediaKind::Image => self.image_renditions(&medium, *watermark).await,
            MediaKind::Video => self.video_thumbnails(&medium).await,
        };
        let made = match made {
            Ok(made) => made,
            Err(outcome) => return outcome,
        };
        let mut renditions = Vec::new();
        for m in made
            .into_iter()
            .filter(|m| !have.iter().any(|h| h == m.name))
        {
            // Beside the original: its key is a file, not a folder.
            let key = format!("{}.{}", medium.key, m.name);
            let rendition = Rendition {
                name: m.name.to_string(),
                content_type: m.content_type.to_string(),
                width: m.width,
                height: m.height,
                bytes: m.bytes.len() as u64,
                sha256: hex::encode(Sha256::digest(&m.bytes)),
                key: key.clone(),
            };
            if let Err(e) = self.media.files.put_bytes(&key, m.bytes).await {
                return Outcome::Retry(e.to_string());
            }
            renditions.push(rendition);
        }
        // Only the renditions change, atomically: alt text or tags set while this rendered
        // stay. A job that ran at the same time may have listed some already.
        let made = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let change = {
            let (renditions, made) = (renditions.clone(), made.clone());
            Box::new(move |m: &mut Medium| {
                let new: Vec<_> = renditions
                    .iter()
                    .filter(|r| m.rendition(&r.name).is_none())
                    .cloned()
                    .collect();
                made.store(new.len() as u64, std::sync::atomic::Ordering::Relaxed);
                m.renditions.extend(new);
            })
        };
        match stores
            .media
            .change_medium(account_id, media_id, change)
            .await
        {
            Ok(Some(_)) => {
                let made = made.load(std::sync::atomic::Ordering::Relaxed);
                metrics::counter!("creo_media_renditions_total").increment(made);
                Outcome::Done
            }
            // Deleted while this rendered: its copies go too.
            Ok(None) => {
                for r in &renditions {
                    let _ = self.media.files.delete(&r.key).await;
                }
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }
}

/// Whole-image work on the blocking pool.
async fn blocking(
    work: impl FnOnce() -> Result<Vec<Made>, String> + Send + 'static,
) -> Result<Vec<Made>, Outcome> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(made)) => Ok(made),
        Ok(Err(e)) => Err(Outcome::Fail(e)),
        Err(e) => Err(Outcome::Retry(e.to_string())),
    }
}
