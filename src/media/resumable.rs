//! Resumable uploads, as the tus 1.0 protocol has them (core, creation, termination,
//! expiration; the HTTP shell is `http/uploads.rs`). A session is opened with the upload's
//! length; its bytes then come in any number of requests, each appended to a part file at the
//! offset the client names. A request cut off keeps what arrived, and the client asks for the
//! offset and goes on from there, also after this process restarted (a session is a record and
//! a part file on this node's disk). When the last byte is in, the file goes through the same
//! checks as an upload in one request (`Library::finish`).
//!
//! What sessions may hold is bounded: per account, `MAX_OPEN_PER_ACCOUNT` open at once, and
//! their lengths together within what the storage quota has left; per node, `MAX_SESSIONS`
//! records and `upload_pending_bytes` of declared lengths. A session untouched for
//! `upload_expiry_secs` is swept with its bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::detect::SNIFF_BYTES;
use super::library::{unavailable, Library, Sniffer, Temp, Upload, UploadError, MAX_IMAGE_BYTES};
use crate::store::now_ms;
use creo_core::media::MediaKind;

/// Sessions one account may have open (not yet complete) at once.
pub const MAX_OPEN_PER_ACCOUNT: usize = 10;
/// Session records a node keeps, open and complete together.
pub const MAX_SESSIONS: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no such upload (it may have expired, been cancelled, or started on another node)")]
    NotFound,
    #[error("the upload is at byte {offset}, not where this request starts")]
    OffsetMismatch { offset: u64 },
    #[error("another request is adding to this upload: try again when it is done")]
    Locked,
    #[error(
        "{MAX_OPEN_PER_ACCOUNT} uploads are open in this workspace already: finish or cancel one"
    )]
    TooManyOpen,
    #[error(transparent)]
    Upload(#[from] UploadError),
}

/// Where a session stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Bytes are still to come.
    Receiving,
    /// Every byte is in; the medium is being checked and stored.
    Finishing,
    /// Stored as `media_id`.
    Done,
}

/// A session's record, kept beside its part file.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    upload_id: String,
    account_id: String,
    user_id: String,
    file_name: String,
    length: u64,
    state: State,
    media_id: Option<String>,
    expires_at: i64,
}

/// A session as its uploader sees it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct UploadSession {
    pub upload_id: String,
    pub file_name: String,
    /// Bytes received so far.
    pub offset: u64,
    /// Bytes the upload has in all.
    pub length: u64,
    pub state: State,
    /// The medium, once stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// When it is swept unless more bytes come (ms since the epoch).
    pub expires_at: i64,
}

struct Session {
    record: Mutex<Record>,
    /// Held by the request adding bytes, and through finishing.
    busy: Arc<tokio::sync::Mutex<()>>,
}

impl Session {
    fn new(record: Record) -> Arc<Session> {
        Arc::new(Session {
            record: Mutex::new(record),
            busy: Arc::new(tokio::sync::Mutex::new(())),
        })
    }
}

/// This node's upload sessions.
pub struct Sessions {
    dir: PathBuf,
    expiry: Duration,
    max_pending: u64,
    open: Mutex<HashMap<String, Arc<Session>>>,
}

impl Sessions {
    /// The sessions recorded in `dir` (made if missing); those expired, or cut off while being
    /// finished, are removed.
    pub fn open(dir: PathBuf, expiry: Duration, max_pending: u64) -> Sessions {
        let sessions = Sessions {
            dir,
            expiry,
            max_pending,
            open: Mutex::new(HashMap::new()),
        };
        let _ = std::fs::create_dir_all(&sessions.dir);
        let now = now_ms();
        for entry in std::fs::read_dir(&sessions.dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let record: Option<Record> = std::fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            match record {
                Some(r) if r.expires_at > now && r.state != State::Finishing => {
                    if r.state == State::Receiving && !sessions.part(&r.upload_id).exists() {
                        let _ = std::fs::File::create(sessions.part(&r.upload_id));
                    }
                    sessions.insert(r);
                }
                Some(r) => sessions.remove_files(&r.upload_id),
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        // Part files whose record is gone belong to no session.
        for entry in std::fs::read_dir(&sessions.dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            let path = entry.path();
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            if path.extension().is_some_and(|e| e == "part") && !sessions.has(stem) {
                let _ = std::fs::remove_file(&path);
            }
        }
        sessions.count();
        sessions
    }

    /// Sessions of a process that takes no uploads (a job worker): none, and none made.
    pub fn none(dir: PathBuf, expiry: Duration) -> Sessions {
        Sessions {
            dir,
            expiry,
            max_pending: 0,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// How long a session lives after its last bytes.
    pub fn expiry(&self) -> Duration {
        self.expiry
    }

    fn part(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.part"))
    }

    fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn has(&self, id: &str) -> bool {
        self.open.lock().unwrap().contains_key(id)
    }

    fn insert(&self, record: Record) {
        let id = record.upload_id.clone();
        self.open.lock().unwrap().insert(id, Session::new(record));
    }

    fn remove_files(&self, id: &str) {
        let _ = std::fs::remove_file(self.part(id));
        let _ = std::fs::remove_file(self.record_path(id));
    }

    /// Forgets session `id` and removes its files.
    fn remove(&self, id: &str) {
        self.open.lock().unwrap().remove(id);
        self.remove_files(id);
        self.count();
    }

    fn count(&self) {
        let open = self.open.lock().unwrap();
        let receiving = open
            .values()
            .filter(|s| s.record.lock().unwrap().state == State::Receiving)
            .count();
        metrics::gauge!("creo_media_upload_sessions").set(receiving as f64);
    }

    /// Writes `record` beside its part file (whole, then renamed over the old one).
    async fn save(&self, record: &Record) -> Result<(), UploadError> {
        let path = self.record_path(&record.upload_id);
        let temp = path.with_extension("json.new");
        let bytes = serde_json::to_vec(record).map_err(unavailable)?;
        tokio::fs::write(&temp, bytes).await.map_err(unavailable)?;
        tokio::fs::rename(&temp, &path).await.map_err(unavailable)
    }

    /// Session `id` if it is `account`'s, made by `user`, and not expired.
    fn find(&self, id: &str, account: &str, user: &str) -> Result<Arc<Session>, SessionError> {
        let session = self
            .open
            .lock()
            .unwrap()
            .get(id)
            .cloned()
            .ok_or(SessionError::NotFound)?;
        let r = session.record.lock().unwrap().clone();
        if r.account_id != account || r.user_id != user || r.expires_at <= now_ms() {
            return Err(SessionError::NotFound);
        }
        Ok(session)
    }

    /// Opens a session for `length` bytes named `file_name`; `used` is what the account's media
    /// take now, `quota` what it may.
    pub async fn create(
        &self,
        up: &Upload,
        length: u64,
        used: u64,
    ) -> Result<UploadSession, SessionError> {
        if length == 0 {
            return Err(UploadError::Invalid("the upload is empty".into()).into());
        }
        if length > up.max_bytes {
            return Err(UploadError::TooLarge {
                limit: up.max_bytes,
            }
            .into());
        }
        let record = Record {
            upload_id: format!("upl_{}", crate::auth::secret::id()),
            account_id: up.account_id.clone(),
            user_id: up.user_id.clone(),
            file_name: up.file_name.clone(),
            length,
            state: State::Receiving,
            media_id: None,
            expires_at: self.expires_at(),
        };
        {
            // Checked and counted under one lock, so concurrent creations cannot both fit.
            let mut open = self.open.lock().unwrap();
            let receiving: Vec<Record> = open
                .values()
                .map(|s| s.record.lock().unwrap().clone())
                .filter(|r| r.state == State::Receiving)
                .collect();
            let mine: Vec<&Record> = receiving
                .iter()
                .filter(|r| r.account_id == up.account_id)
                .collect();
            if mine.len() >= MAX_OPEN_PER_ACCOUNT {
                return Err(SessionError::TooManyOpen);
            }
            let pending: u64 = mine.iter().map(|r| r.length).sum();
            if let Some(quota) = up.quota {
                if used.saturating_add(pending).saturating_add(length) > quota {
                    return Err(UploadError::StorageFull {
                        used: used.saturating_add(pending),
                        quota,
                    }
                    .into());
                }
            }
            let node_pending: u64 = receiving.iter().map(|r| r.length).sum();
            if open.len() >= MAX_SESSIONS || node_pending.saturating_add(length) > self.max_pending
            {
                return Err(UploadError::Busy.into());
            }
            open.insert(record.upload_id.clone(), Session::new(record.clone()));
        }
        let made = async {
            tokio::fs::create_dir_all(&self.dir)
                .await
                .map_err(unavailable)?;
            tokio::fs::File::create(self.part(&record.upload_id))
                .await
                .map_err(unavailable)?;
            self.save(&record).await
        };
        if let Err(e) = made.await {
            self.remove(&record.upload_id);
            return Err(e.into());
        }
        self.count();
        Ok(self.view(&record).await)
    }

    fn expires_at(&self) -> i64 {
        now_ms() + self.expiry.as_millis() as i64
    }

    async fn view(&self, r: &Record) -> UploadSession {
        let offset = match r.state {
            State::Receiving => tokio::fs::metadata(self.part(&r.upload_id))
                .await
                .map(|m| m.len())
                .unwrap_or(0),
            State::Finishing | State::Done => r.length,
        };
        UploadSession {
            upload_id: r.upload_id.clone(),
            file_name: r.file_name.clone(),
            offset,
            length: r.length,
            state: r.state,
            media_id: r.media_id.clone(),
            expires_at: r.expires_at,
        }
    }

    /// Where session `id` stands.
    pub async fn get(
        &self,
        id: &str,
        account: &str,
        user: &str,
    ) -> Result<UploadSession, SessionError> {
        let session = self.find(id, account, user)?;
        let record = session.record.lock().unwrap().clone();
        Ok(self.view(&record).await)
    }

    /// Cancels session `id`: its bytes go, and it no longer counts.
    pub async fn cancel(&self, id: &str, account: &str, user: &str) -> Result<(), SessionError> {
        let session = self.find(id, account, user)?;
        // A request still adding bytes ends first (it finds its session gone).
        // Held through finishing too, so a finished upload's medium is not lost to a cancel.
        let _busy = session
            .busy
            .clone()
            .try_lock_owned()
            .map_err(|_| SessionError::Locked)?;
        self.remove(id);
        Ok(())
    }

    /// Removes the sessions untouched past their expiry (those being written to wait a round).
    pub fn sweep(&self) -> usize {
        let now = now_ms();
        let expired: Vec<String> = self
            .open
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, s)| s.busy.try_lock().is_ok())
            .filter(|(_, s)| s.record.lock().unwrap().expires_at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &expired {
            self.remove(id);
        }
        if !expired.is_empty() {
            metrics::counter!("creo_media_upload_sessions_expired_total")
                .increment(expired.len() as u64);
        }
        expired.len()
    }
}

/// A request adding bytes to a session.
pub struct Append {
    pub upload_id: String,
    /// Where the client says its bytes start.
    pub offset: u64,
    /// The length it declares (`Content-Length`), when it does.
    pub declared: Option<u64>,
    /// The uploader, with the limits of the account's tier now.
    pub up: Upload,
}

impl Library {
    /// Appends `body` to a session at `offset`. When that completes the upload, the medium is
    /// checked and stored before this answers (`media_id` in the answer). A body cut off keeps
    /// what arrived; an upload whose first bytes show a type creo does not take, or that turns
    /// out not to be a medium, is removed.
    pub async fn append<S, E>(&self, add: Append, body: S) -> Result<UploadSession, SessionError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let sessions = self.resumable.clone();
        let id = add.upload_id.clone();
        let session = sessions.find(&id, &add.up.account_id, &add.up.user_id)?;
        let busy = session
            .busy
            .clone()
            .try_lock_owned()
            .map_err(|_| SessionError::Locked)?;
        let record = session.record.lock().unwrap().clone();
        let now = sessions.view(&record).await;
        if add.offset != now.offset {
            return Err(SessionError::OffsetMismatch { offset: now.offset });
        }
        if record.state != State::Receiving {
            return Ok(now);
        }
        let length = record.length;
        if add
            .declared
            .is_some_and(|n| add.offset.saturating_add(n) > length)
        {
            return Err(UploadError::TooLarge { limit: length }.into());
        }
        let slot = self.slot()?;
        let part = sessions.part(&id);
        let received = receive(&part, add.offset, length, body).await;
        let sniffed = match received {
            Ok(Some(sniffed)) => sniffed,
            Ok(None) => {
                touch(&sessions, &session).await;
                let record = session.record.lock().unwrap().clone();
                return Ok(sessions.view(&record).await);
            }
            Err(Cut::Refused(e)) => {
                sessions.remove(&id);
                return Err(e.into());
            }
            Err(Cut::Kept(e)) => {
                touch(&sessions, &session).await;
                return Err(e.into());
            }
        };
        // Every byte is in. Finished on a task of its own, so that a client going away now does
        // not leave the session half finished.
        let record = {
            let mut r = session.record.lock().unwrap();
            r.state = State::Finishing;
            r.clone()
        };
        sessions.save(&record).await.map_err(SessionError::Upload)?;
        sessions.count();
        let library = self.clone();
        let up = Upload {
            file_name: record.file_name.clone(),
            ..add.up
        };
        tokio::spawn(async move {
            let _busy = busy;
            let _slot = slot;
            let (content_type, kind) = sniffed;
            let media_id = format!("med_{}", crate::auth::secret::id());
            // The part file is the received upload now: `finish` removes it.
            let stored = library
                .finish(&up, media_id, Temp(part), length, content_type, kind)
                .await;
            let sessions = &library.resumable;
            match stored {
                Ok(medium) => {
                    let record = {
                        let mut r = session.record.lock().unwrap();
                        r.state = State::Done;
                        r.media_id = Some(medium.media_id.clone());
                        r.clone()
                    };
                    if let Err(e) = sessions.save(&record).await {
                        tracing::warn!(upload = %record.upload_id, error = %e,
                            "a finished upload's record was not saved: it reads as cut off after a restart");
                    }
                    Ok((sessions.view(&record).await, medium))
                }
                Err(e) => {
                    sessions.remove(&record.upload_id);
                    Err(SessionError::Upload(e))
                }
            }
        })
        .await
        .map_err(unavailable)?
        .map(|(view, medium)| {
            metrics::counter!("creo_media_uploads_total", "outcome" => "stored").increment(1);
            metrics::counter!("creo_media_bytes_total").increment(medium.bytes);
            view
        })
    }
}

/// How appending stopped short.
enum Cut {
    /// The upload can go on from what was kept.
    Kept(UploadError),
    /// The upload is no medium creo takes: it is removed.
    Refused(UploadError),
}

/// Appends `body` to `part` (at `offset`, of `length`), sniffing the first bytes; the type
/// once the last byte is in (`None` before). What arrives before a cut is kept (and synced); bytes past
/// `length` are refused with the whole request's (the part is cut back to `offset`).
async fn receive<S, E>(
    part: &Path,
    offset: u64,
    length: u64,
    mut body: S,
) -> Result<Option<(&'static str, MediaKind)>, Cut>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let kept = |e: std::io::Error| Cut::Kept(unavailable(e));
    let mut head = vec![0u8; offset.min(SNIFF_BYTES as u64) as usize];
    let mut file = tokio::fs::File::open(part).await.map_err(kept)?;
    file.read_exact(&mut head).await.map_err(kept)?;
    let mut sniffer = Sniffer::resuming(length, &head, offset).map_err(Cut::Refused)?;
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(part)
        .await
        .map_err(kept)?;
    let mut outcome = Ok(());
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                outcome = Err(Cut::Kept(UploadError::Interrupted(e.to_string())));
                break;
            }
        };
        let had_type = sniffer.detected().is_some();
        if let Err(e) = sniffer.take(&chunk) {
            outcome = Err(match e {
                // More than the upload's length: this request is refused, what came before is not.
                UploadError::TooLarge { .. } if sniffer.total > length => {
                    let _ = file.flush().await;
                    let _ = file.set_len(offset).await;
                    return Err(Cut::Kept(UploadError::TooLarge { limit: length }));
                }
                e => Cut::Refused(e),
            });
            break;
        }
        // An image is never decoded past `MAX_IMAGE_BYTES`: told as soon as its type is known.
        if !had_type
            && sniffer
                .detected()
                .is_some_and(|(_, kind)| kind == MediaKind::Image && length > MAX_IMAGE_BYTES)
        {
            outcome = Err(Cut::Refused(UploadError::TooLarge {
                limit: MAX_IMAGE_BYTES,
            }));
            break;
        }
        if let Err(e) = file.write_all(&chunk).await {
            outcome = Err(kept(e));
            break;
        }
    }
    if let Err(e) = file.flush().await.and(file.sync_data().await) {
        outcome = outcome.and(Err(kept(e)));
    }
    outcome?;
    if sniffer.total < length {
        return Ok(None);
    }
    sniffer.finish().map(Some).map_err(Cut::Refused)
}

/// Moves `session`'s expiry on after bytes came.
async fn touch(sessions: &Sessions, session: &Session) {
    let record = {
        let mut r = session.record.lock().unwrap();
        r.expires_at = sessions.expires_at();
        r.clone()
    };
    if let Err(e) = sessions.save(&record).await {
        tracing::warn!(upload = %record.upload_id, error = %e, "an upload's expiry was not saved");
    }
}
