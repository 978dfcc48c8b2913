//! The `renditions` job: a stored image's smaller copies made on the blocking pool, written
//! to object storage beside it, and listed on its row. Queued by the upload; a redelivered job
//! finds the renditions listed and does nothing twice.

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};

use super::{Job, JobKind, Outcome};
use crate::media::Library;
use creo_core::media::{MediaKind, Rendition};

pub struct Renderer {
    pub media: Library,
}

/// The most of an original read to render it (uploads of images are held to 50 MB).
const MAX_ORIGINAL: usize = 64 << 20;

impl Renderer {
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
        if medium.kind != MediaKind::Image || (!medium.renditions.is_empty() && !missing_export) {
            return Outcome::Done;
        }
        let have: Vec<String> = medium.renditions.iter().map(|r| r.name.clone()).collect();
        let original = match self.media.files.read(&medium.key, None).await {
            Ok(read) if read.size as usize <= MAX_ORIGINAL => {
                let whole = read
                    .bytes
                    .try_fold(Vec::new(), |mut all, chunk| async move {
                        all.extend_from_slice(&chunk);
                        Ok(all)
                    });
                match whole.await {
                    Ok(bytes) => bytes,
                    Err(e) => return Outcome::Retry(e.to_string()),
                }
            }
            Ok(read) => return Outcome::Fail(format!("the original is {} bytes", read.size)),
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        let watermark = *watermark;
        let made = match tokio::task::spawn_blocking(move || {
            crate::media::renditions::render(&original, watermark)
        })
        .await
        {
            Ok(Ok(made)) => made,
            Ok(Err(e)) => return Outcome::Fail(e),
            Err(e) => return Outcome::Retry(e.to_string()),
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
        // Re-read: alt text or tags may have changed while this rendered.
        let mut now = match stores.media.medium(account_id, media_id).await {
            Ok(Some(m)) => m,
            Ok(None) => {
                for r in &renditions {
                    let _ = self.media.files.delete(&r.key).await;
                }
                return Outcome::Done;
            }
            Err(e) => return Outcome::Retry(e.to_string()),
        };
        // A job that ran at the same time may have listed some already.
        renditions.retain(|r| now.rendition(&r.name).is_none());
        let made = renditions.len() as u64;
        now.renditions.extend(renditions);
        match stores.media.update_medium(&now).await {
            Ok(true) => {
                metrics::counter!("creo_media_renditions_total").increment(made);
                Outcome::Done
            }
            // Deleted while this rendered: its copies go too.
            Ok(false) => {
                for r in &now.renditions {
                    let _ = self.media.files.delete(&r.key).await;
                }
                Outcome::Done
            }
            Err(e) => Outcome::Retry(e.to_string()),
        }
    }
}
