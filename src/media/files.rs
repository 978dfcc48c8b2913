//! Where media bytes live: an `object_store` (the local filesystem under `CREO_DATA/media` by
//! default), one object per medium under `{account}/{media id}`. Objects are written streaming
//! from a local file and read back by range or into a local file, never whole.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::path::Path as Key;
use object_store::{GetOptions, GetRange, ObjectStore, PutPayload, WriteMultipart};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The size of each part written.
const PART: usize = 8 << 20;

#[derive(Clone)]
pub struct Files {
    store: Arc<dyn ObjectStore>,
}

/// A stored object's bytes in `range` of its `size`, as they stream from the store.
pub struct Read {
    pub size: u64,
    pub range: std::ops::Range<u64>,
    pub bytes: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

impl Files {
    /// Media on the local filesystem under `dir` (made if missing).
    pub fn local(dir: &Path) -> std::io::Result<Files> {
        std::fs::create_dir_all(dir)?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)
            .map_err(std::io::Error::other)?;
        Ok(Files {
            store: Arc::new(store),
        })
    }

    /// Media in an S3-compatible bucket: `url` is `s3://bucket[/prefix]`; credentials and the
    /// region come from the standard `AWS_*` variables; `endpoint` names a store that is not
    /// AWS (plain `http://` is allowed only for it, on an address the operator chose).
    pub fn s3(url: &str, endpoint: Option<&str>) -> Result<Files, object_store::Error> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| object_store::Error::Generic {
                store: "media",
                source: format!("{url} is not an s3:// URL").into(),
            })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let mut builder = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                // Most S3-compatible servers address buckets by path, not by host name.
                .with_virtual_hosted_style_request(false);
        }
        let store: Arc<dyn ObjectStore> = Arc::new(builder.build()?);
        let store = match prefix.trim_matches('/') {
            "" => store,
            prefix => Arc::new(object_store::prefix::PrefixStore::new(
                store,
                prefix.to_string(),
            )),
        };
        Ok(Files { store })
    }

    /// The store `config` names.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Files> {
        Ok(match &config.media_store {
            Some(url) => Files::s3(url, config.media_s3_endpoint.as_deref())?,
            None => Files::local(&config.data.join("media"))?,
        })
    }

    pub fn key(account_id: &str, media_id: &str) -> String {
        format!("{account_id}/{media_id}")
    }

    /// Writes the file at `from` as `key`, a part at a time.
    pub async fn put_file(&self, key: &str, from: &Path) -> Result<(), object_store::Error> {
        let key = Key::from(key);
        let mut file = tokio::fs::File::open(from)
            .await
            .map_err(|e| io_error(&key, e))?;
        if file.metadata().await.map_err(|e| io_error(&key, e))?.len() <= PART as u64 {
            let mut all = Vec::new();
            file.read_to_end(&mut all)
                .await
                .map_err(|e| io_error(&key, e))?;
            self.store.put(&key, PutPayload::from(all)).await?;
            return Ok(());
        }
        let upload = self.store.put_multipart(&key).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut buffer = vec![0u8; 1 << 20];
        let written: Result<(), object_store::Error> = async {
            loop {
                let n = file
                    .read(&mut buffer)
                    .await
                    .map_err(|e| io_error(&key, e))?;
                if n == 0 {
                    return Ok(());
                }
                writer.wait_for_capacity(2).await?;
                writer.write(&buffer[..n]);
            }
        }
        .await;
        match written {
            Ok(()) => writer.finish().await.map(|_| ()),
            // An S3 multipart upload left open is kept (and billed) until aborted.
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// Writes `bytes` (a rendition, already in memory) as `key`.
    pub async fn put_bytes(&self, key: &str, bytes: Vec<u8>) -> Result<(), object_store::Error> {
        self.store
            .put(&Key::from(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
    }

    /// `key`'s bytes, all or `range` (inclusive start, exclusive end), streaming.
    pub async fn read(
        &self,
        key: &str,
        range: Option<std::ops::Range<u64>>,
    ) -> Result<Read, object_store::Error> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let got = self.store.get_opts(&Key::from(key), options).await?;
        Ok(Read {
            size: got.meta.size,
            range: got.range.clone(),
            bytes: got.into_stream().boxed(),
        })
    }

    /// Copies `key` to a new file at `to`, a chunk at a time (for tools that read local files:
    /// `ffmpeg`).
    pub async fn get_file(&self, key: &str, to: &Path) -> Result<(), object_store::Error> {
        let mut read = self.read(key, None).await?;
        let key = Key::from(key);
        let mut file = tokio::fs::File::create(to)
            .await
            .map_err(|e| io_error(&key, e))?;
        while let Some(chunk) = read.bytes.next().await {
            file.write_all(&chunk?)
                .await
                .map_err(|e| io_error(&key, e))?;
        }
        file.flush().await.map_err(|e| io_error(&key, e))
    }

    pub async fn delete(&self, key: &str) -> Result<(), object_store::Error> {
        match self.store.delete(&Key::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn io_error(key: &Key, e: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "media",
        source: format!("{key}: {e}").into(),
    }
}
