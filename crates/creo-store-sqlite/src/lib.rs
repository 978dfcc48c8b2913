//! The embedded backend: SQLite in WAL mode under the data directory. Several creo processes on
//! one machine can share the file (WAL readers never block the writer), which is how multi-node
//! behaviour is tested without ScyllaDB.
//!
//! Writes go through one writer thread that drains every queued request into one transaction:
//! a group commit across all documents, one fsync per batch however many editors are typing.
//! Every other write (accounts, the ledger, workflows...) rides the same writer, each in its own
//! savepoint. Each aggregate's queries are in the file named after it (`ledger.rs`, `versions.rs`).

mod account_rows;
mod webhook_rows;
mod workflow_rows;

mod accounts;
mod analytics;
mod api_keys;
mod audit;
mod brand;
mod channels;
mod comments;
mod documents;
mod embeddings;
mod generations;
mod invitations;
mod jobs;
mod ledger;
mod login_sessions;
mod media;
mod members;
mod mfa;
mod migrate;
mod notifications;
mod one_time_tokens;
mod pacing;
mod payment_events;
mod revocations;
mod users;
mod versions;
mod webhooks;
mod workflows;

pub use migrate::migrate;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use tokio::sync::oneshot;

use creo_store::{documents::*, now_ms, revocations::*, unavailable, StoreError};

/// Most requests folded into one transaction.
const MAX_OPS_PER_COMMIT: usize = 512;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;
type Job = Box<dyn FnOnce(&Connection) -> Result<Box<dyn Any + Send>, StoreError> + Send>;

enum WriteOp {
    Claim {
        doc_id: String,
        account_id: String,
        reply: Reply<DocumentMeta>,
    },
    Append {
        doc_id: String,
        updates: Vec<Bytes>,
        reply: Reply<Appended>,
    },
    Delete {
        doc_id: String,
        reply: Reply<bool>,
    },
    Revoke {
        revocation: Revocation,
        reply: Reply<()>,
    },
    Lift {
        account_id: String,
        user_id: String,
        scope: String,
        reply: Reply<bool>,
    },
    /// Any other write, run under its own savepoint in the next group commit.
    Run {
        job: Job,
        reply: Reply<Box<dyn Any + Send>>,
    },
    Compact {
        doc_id: String,
        epoch: i64,
        through_seq: i64,
        folded_updates: u64,
        state: Vec<u8>,
        reply: Reply<Option<Compaction>>,
    },
}

pub struct EmbeddedStore {
    path: PathBuf,
    synchronous: String,
    writer: Mutex<mpsc::Sender<WriteOp>>,
    readers: Arc<Mutex<Vec<Connection>>>,
    /// Dropped with the store, which stops the checkpointer thread.
    _checkpoints: mpsc::Sender<()>,
}

/// How often the checkpointer copies the WAL back into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// WAL pages (4 KiB) past which a checkpoint waits for writers instead of running beside them,
/// so a write load the passive checkpoints cannot keep up with cannot grow the WAL forever.
const WAL_PAGES_HARD_LIMIT: i64 = 64 * 1024;

fn open(path: &Path, synchronous: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(unavailable)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(unavailable)?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(unavailable)?;
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(unavailable)?;
    // Once checkpointed, a WAL that grew under a burst is truncated back to this size.
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)
        .map_err(unavailable)?;
    Ok(conn)
}

impl EmbeddedStore {
    /// Opens (and migrates) `DATA/creo.db`, and starts the writer thread, which commits whenever
    /// a request waits.
    pub fn open(data_dir: &Path, synchronous: &str) -> Result<EmbeddedStore, StoreError> {
        EmbeddedStore::open_paced(data_dir, synchronous, 0)
    }

    /// As `open`, with at most `commits_per_second` commits (fsyncs) a second once a burst is
    /// spent; 0 for no limit (see `pacing`).
    pub fn open_paced(
        data_dir: &Path,
        synchronous: &str,
        commits_per_second: u32,
    ) -> Result<EmbeddedStore, StoreError> {
        if !matches!(synchronous, "full" | "normal") {
            return Err(StoreError::Unavailable(format!(
                "sqlite_synchronous must be full or normal, not {synchronous}"
            )));
        }
        // Owner-only: the store holds everyone's documents, ledgers and sealed secrets. SQLite
        // gives the WAL and shared-memory files the database file's mode.
        creo_store::private_files::private_dir(data_dir).map_err(unavailable)?;
        let path = data_dir.join("creo.db");
        creo_store::private_files::private_file(&path).map_err(unavailable)?;
        for side in ["creo.db-wal", "creo.db-shm"] {
            creo_store::private_files::restrict(&data_dir.join(side)).map_err(unavailable)?;
        }
        let conn = open(&path, synchronous)?;
        migrate(&conn)?;
        // Checkpoints run on their own connection: SQLite's automatic checkpoint would run inside
        // a commit, and an editor's update would wait behind a copy of the whole WAL.
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(unavailable)?;
        let checkpointer = open(&path, synchronous)?;
        let (tx, rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("creo-store-writer".into())
            .spawn(move || writer_loop(conn, rx, commits_per_second))
            .map_err(unavailable)?;
        let (checkpoints, stop) = mpsc::channel();
        std::thread::Builder::new()
            .name("creo-store-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpointer, stop))
            .map_err(unavailable)?;
        Ok(EmbeddedStore {
            path,
            synchronous: synchronous.to_string(),
            writer: Mutex::new(tx),
            readers: Arc::new(Mutex::new(Vec::new())),
            _checkpoints: checkpoints,
        })
    }

    async fn write<T>(&self, make: impl FnOnce(Reply<T>) -> WriteOp) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .lock()
            .expect("writer lock")
            .send(make(reply))
            .map_err(|_| unavailable("store writer stopped"))?;
        rx.await
            .map_err(|_| unavailable("store writer dropped the request"))?
    }

    /// Runs `f` in the next group commit, under its own savepoint: all of it lands, or none.
    async fn transaction<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let job: Job = Box::new(move |conn| f(conn).map(|v| Box::new(v) as Box<dyn Any + Send>));
        let out = self.write(|reply| WriteOp::Run { job, reply }).await?;
        Ok(*out
            .downcast::<T>()
            .expect("a job answers with the type it was given"))
    }

    /// Runs a read on a pooled connection on the blocking pool, never on the executor.
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = self.readers.clone();
        let path = self.path.clone();
        let synchronous = self.synchronous.clone();
        tokio::task::spawn_blocking(move || {
            let pooled = readers.lock().expect("reader pool").pop();
            let mut conn = match pooled {
                Some(c) => c,
                None => open(&path, &synchronous)?,
            };
            let out = f(&mut conn);
            readers.lock().expect("reader pool").push(conn);
            out
        })
        .await
        .map_err(unavailable)?
    }
}

fn read_meta(conn: &Connection, doc_id: &str) -> Result<Option<DocumentMeta>, StoreError> {
    conn.query_row(
        "SELECT account_id, epoch, created_at, updated_at, title FROM documents WHERE doc_id = ?1",
        params![doc_id],
        |r| {
            Ok(DocumentMeta {
                doc_id: doc_id.to_string(),
                account_id: r.get(0)?,
                epoch: r.get(1)?,
                created_at_ms: r.get(2)?,
                updated_at_ms: r.get(3)?,
                title: r.get(4)?,
            })
        },
    )
    .optional()
    .map_err(unavailable)
}

/// One epoch as stored: its snapshot, its log in order, and the last log seq read.
struct Epoch {
    snapshot: Option<Vec<u8>>,
    updates: Vec<Vec<u8>>,
    last_seq: i64,
}

/// Reads one epoch: snapshot chunks in order, then the log in order.
fn read_epoch(conn: &Connection, doc_id: &str, epoch: i64) -> Result<Epoch, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT data FROM document_snapshots WHERE doc_id = ?1 AND epoch = ?2 ORDER BY chunk",
        )
        .map_err(unavailable)?;
    let chunks: Vec<Vec<u8>> = stmt
        .query_map(params![doc_id, epoch], |r| r.get(0))
        .map_err(unavailable)?
        .collect::<Result<_, _>>()
        .map_err(unavailable)?;
    let snapshot = (!chunks.is_empty()).then(|| chunks.concat());
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, data FROM document_updates WHERE doc_id = ?1 AND epoch = ?2 ORDER BY seq",
        )
        .map_err(unavailable)?;
    let mut last_seq = 0;
    let updates = stmt
        .query_map(params![doc_id, epoch], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .map_err(unavailable)?
        .map(|row| {
            row.map(|(seq, data)| {
                last_seq = seq;
                data
            })
        })
        .collect::<Result<_, _>>()
        .map_err(unavailable)?;
    Ok(Epoch {
        snapshot,
        updates,
        last_seq,
    })
}

/// A consistent read of a whole document: one read transaction, so a compaction by another
/// process cannot slip between the snapshot and the log.
fn read_document(
    conn: &mut Connection,
    doc_id: &str,
) -> Result<Option<(StoredDocument, i64)>, StoreError> {
    let tx = conn.transaction().map_err(unavailable)?;
    let Some(meta) = read_meta(&tx, doc_id)? else {
        return Ok(None);
    };
    let Epoch {
        snapshot,
        updates,
        last_seq,
    } = read_epoch(&tx, doc_id, meta.epoch)?;
    tx.finish().map_err(unavailable)?;
    Ok(Some((
        StoredDocument {
            meta,
            snapshot,
            updates,
        },
        last_seq,
    )))
}

/// Copies committed WAL pages into the database beside the writer (PASSIVE never blocks it),
/// until the store is dropped.
fn checkpoint_loop(conn: Connection, stop: mpsc::Receiver<()>) {
    let mut wal_pages = 0;
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_EVERY) {
        let started = Instant::now();
        let mode = if wal_pages > WAL_PAGES_HARD_LIMIT {
            "RESTART"
        } else {
            "PASSIVE"
        };
        // Answers (busy, pages in the WAL, pages checkpointed).
        let result = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        });
        match result {
            Ok((pages, copied)) => {
                wal_pages = pages;
                if copied > 0 {
                    metrics::histogram!("creo_store_checkpoint_seconds")
                        .record(started.elapsed().as_secs_f64());
                }
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
        }
    }
}

/// What the writer remembers of the documents it appends to: each one's epoch and last sequence
/// number, so that an append is its inserts alone (no lookups). Trusted only while no other
/// connection has written the database: `PRAGMA data_version` changes when one has (another
/// creo process sharing the file), and it is read under the write lock at every batch.
#[derive(Default)]
struct Tails {
    data_version: i64,
    docs: std::collections::HashMap<String, Tail>,
}

#[derive(Clone, Copy)]
struct Tail {
    epoch: i64,
    seq: i64,
}

impl Tails {
    /// At the start of a batch, with the write lock held.
    fn validate(&mut self, conn: &Connection) -> Result<(), StoreError> {
        let version: i64 = conn
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(unavailable)?;
        if version != self.data_version {
            self.docs.clear();
            self.data_version = version;
        }
        Ok(())
    }
}

fn writer_loop(mut conn: Connection, rx: mpsc::Receiver<WriteOp>, commits_per_second: u32) {
    let mut tails = Tails::default();
    let mut pacer = pacing::CommitPacer::new(commits_per_second, Instant::now());
    while let Ok(first) = rx.recv() {
        let mut paced = false;
        if let Some(pacer) = pacer.as_mut() {
            let wait = pacer.next_slot(Instant::now());
            if !wait.is_zero() {
                // Whatever arrives meanwhile joins this commit.
                metrics::counter!("creo_store_commits_paced_total").increment(1);
                std::thread::sleep(wait);
                paced = true;
            }
        }
        let mut ops = vec![first];
        while ops.len() < MAX_OPS_PER_COMMIT {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        if let (true, Some(pacer)) = (paced, pacer.as_mut()) {
            pacer.gathered(ops.len(), Instant::now());
        }
        let started = Instant::now();
        let n = ops.len();
        commit(&mut conn, &mut tails, ops);
        metrics::histogram!("creo_store_commit_seconds").record(started.elapsed().as_secs_f64());
        metrics::histogram!("creo_store_commit_requests").record(n as f64);
    }
}

/// Executes a batch of requests in one transaction, each under its own savepoint so one failing
/// request does not fail the others. Replies only after COMMIT returned: nothing is reported
/// durable before it is.
fn commit(conn: &mut Connection, tails: &mut Tails, ops: Vec<WriteOp>) {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let err = unavailable(e);
            ops.into_iter().for_each(|op| op.fail(err.clone()));
            return;
        }
    };
    if let Err(err) = tails.validate(&tx) {
        ops.into_iter().for_each(|op| op.fail(err.clone()));
        return;
    }
    let mut done: Vec<Box<dyn FnOnce(Option<StoreError>)>> = Vec::with_capacity(ops.len());
    let mut tx = tx;
    for op in ops {
        done.push(execute(&mut tx, tails, op));
    }
    match tx.commit() {
        Ok(()) => done.into_iter().for_each(|reply| reply(None)),
        Err(e) => {
            // Nothing of the batch landed: what the tails learnt from it is void.
            tails.docs.clear();
            let err = unavailable(e);
            done.into_iter().for_each(|reply| reply(Some(err.clone())));
        }
    }
}

impl WriteOp {
    fn fail(self, err: StoreError) {
        match self {
            WriteOp::Claim { reply, .. } => drop(reply.send(Err(err))),
            WriteOp::Append { reply, .. } => drop(reply.send(Err(err))),
            WriteOp::Compact { reply, .. } => drop(reply.send(Err(err))),
            WriteOp::Delete { reply, .. } => drop(reply.send(Err(err))),
            WriteOp::Revoke { reply, .. } => drop(reply.send(Err(err))),
            WriteOp::Lift { reply, .. } => drop(reply.send(Err(err))),
            WriteOp::Run { reply, .. } => drop(reply.send(Err(err))),
        }
    }
}

/// Runs one request under a savepoint and returns how to answer it once the transaction's fate
/// is known (a commit failure turns every answer into that error).
fn execute(
    tx: &mut Transaction<'_>,
    tails: &mut Tails,
    op: WriteOp,
) -> Box<dyn FnOnce(Option<StoreError>)> {
    /// Keeps the request's writes (releases its savepoint) if it succeeded.
    fn settle<T>(
        sp: rusqlite::Savepoint<'_>,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match result {
            Ok(v) => sp.commit().map(|_| v).map_err(unavailable),
            Err(e) => Err(e), // dropping the savepoint rolls it back
        }
    }
    /// The answer, sent once the transaction's fate is known.
    fn answer<T: Send + 'static>(
        result: Result<T, StoreError>,
        reply: Reply<T>,
    ) -> Box<dyn FnOnce(Option<StoreError>)> {
        Box::new(move |commit_err| {
            let _ = reply.send(match commit_err {
                Some(e) => Err(e),
                None => result,
            });
        })
    }
    fn finish<T: Send + 'static>(
        sp: rusqlite::Savepoint<'_>,
        result: Result<T, StoreError>,
        reply: Reply<T>,
    ) -> Box<dyn FnOnce(Option<StoreError>)> {
        answer(settle(sp, result), reply)
    }
    let sp = match tx.savepoint() {
        Ok(sp) => sp,
        Err(e) => {
            let err = unavailable(e);
            return Box::new(move |_| op.fail(err));
        }
    };
    match op {
        WriteOp::Claim {
            doc_id,
            account_id,
            reply,
        } => {
            let r = claim(&sp, &doc_id, &account_id);
            finish(sp, r, reply)
        }
        WriteOp::Append {
            doc_id,
            updates,
            reply,
        } => {
            let tail = tails.docs.remove(&doc_id);
            let appended = append(&sp, tail, &doc_id, &updates);
            let r = settle(sp, appended).map(|(appended, tail)| {
                tails.docs.insert(doc_id, tail);
                appended
            });
            answer(r, reply)
        }
        WriteOp::Delete { doc_id, reply } => {
            tails.docs.remove(&doc_id);
            let r = delete(&sp, &doc_id);
            finish(sp, r, reply)
        }
        WriteOp::Revoke { revocation, reply } => {
            let r = revoke(&sp, &revocation);
            finish(sp, r, reply)
        }
        WriteOp::Lift {
            account_id,
            user_id,
            scope,
            reply,
        } => {
            let r = sp
                .execute(
                    "DELETE FROM access_revocations
                     WHERE account_id = ?1 AND user_id = ?2 AND scope = ?3",
                    params![account_id, user_id, scope],
                )
                .map(|n| n > 0)
                .map_err(unavailable);
            finish(sp, r, reply)
        }
        WriteOp::Run { job, reply } => {
            // Jobs write the other aggregates (accounts, jobs, the ledger...): a document's epoch
            // and log are written only by the operations above, so the tails stay true. (The
            // store queue's poll is a job every 100 ms; clearing here made nearly every append
            // look its tail up again.)
            let r = job(&sp);
            finish(sp, r, reply)
        }
        WriteOp::Compact {
            doc_id,
            epoch,
            through_seq,
            folded_updates,
            state,
            reply,
        } => {
            tails.docs.remove(&doc_id);
            let r = switch_epoch(&sp, &doc_id, epoch, through_seq, folded_updates, state);
            finish(sp, r, reply)
        }
    }
}

fn claim(conn: &Connection, doc_id: &str, account_id: &str) -> Result<DocumentMeta, StoreError> {
    let now = now_ms();
    conn.execute(
        "INSERT OR IGNORE INTO documents (doc_id, account_id, epoch, created_at, updated_at)
         VALUES (?1, ?2, 0, ?3, ?3)",
        params![doc_id, account_id, now],
    )
    .map_err(unavailable)?;
    read_meta(conn, doc_id)?.ok_or_else(|| StoreError::NotFound(doc_id.to_string()))
}

/// Appends `updates` after the document's last one. `tail` is what the writer knows of the
/// document (see `Tails`); without it, the epoch and the last seq are read here.
fn append(
    conn: &Connection,
    tail: Option<Tail>,
    doc_id: &str,
    updates: &[Bytes],
) -> Result<(Appended, Tail), StoreError> {
    let Tail { epoch, mut seq } = match tail {
        Some(tail) => tail,
        None => {
            // Read inside the transaction: an append can never land in an epoch that a
            // compaction (here or in another process) has already folded and dropped.
            let epoch: i64 = conn
                .prepare_cached("SELECT epoch FROM documents WHERE doc_id = ?1")
                .and_then(|mut s| s.query_row(params![doc_id], |r| r.get(0)).optional())
                .map_err(unavailable)?
                .ok_or_else(|| StoreError::NotFound(doc_id.to_string()))?;
            let seq: i64 = conn
                .prepare_cached(
                    "SELECT COALESCE(MAX(seq), 0) FROM document_updates \
                     WHERE doc_id = ?1 AND epoch = ?2",
                )
                .and_then(|mut s| s.query_row(params![doc_id, epoch], |r| r.get(0)))
                .map_err(unavailable)?;
            Tail { epoch, seq }
        }
    };
    let mut insert = conn
        .prepare_cached(
            "INSERT INTO document_updates (doc_id, epoch, seq, data) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(unavailable)?;
    for update in updates {
        seq += 1;
        insert
            .execute(params![doc_id, epoch, seq, update.as_ref()])
            .map_err(unavailable)?;
    }
    // Lists of documents sort by it; the same cached statement, one row by key.
    conn.prepare_cached("UPDATE documents SET updated_at = ?2 WHERE doc_id = ?1")
        .and_then(|mut s| s.execute(params![doc_id, now_ms()]))
        .map_err(unavailable)?;
    Ok((Appended { epoch }, Tail { epoch, seq }))
}

fn revoke(conn: &Connection, r: &Revocation) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO access_revocations
         (account_id, user_id, scope, revoked_by, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            r.account_id,
            r.user_id,
            revocation_scope(r.doc_id.as_deref()),
            r.revoked_by,
            r.revoked_at
        ],
    )
    .map(|_| ())
    .map_err(unavailable)
}

fn read_revocations(conn: &Connection, account_id: &str) -> Result<Vec<Revocation>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT user_id, scope, revoked_by, revoked_at FROM access_revocations
             WHERE account_id = ?1 ORDER BY user_id, scope",
        )
        .map_err(unavailable)?;
    let rows = stmt
        .query_map(params![account_id], |row| {
            let scope: String = row.get(1)?;
            Ok(Revocation {
                account_id: account_id.to_string(),
                user_id: row.get(0)?,
                doc_id: (scope != WHOLE_ACCOUNT).then_some(scope),
                revoked_by: row.get(2)?,
                revoked_at: row.get(3)?,
            })
        })
        .map_err(unavailable)?;
    rows.collect::<Result<_, _>>().map_err(unavailable)
}

fn delete(conn: &Connection, doc_id: &str) -> Result<bool, StoreError> {
    for table in ["document_updates", "document_snapshots"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE doc_id = ?1"),
            params![doc_id],
        )
        .map_err(unavailable)?;
    }
    for table in [
        "document_comments",
        "document_versions",
        "document_workflow",
        "workflow_transitions",
        "generations",
        "publish_targets",
        "post_metrics",
        "recurrences",
    ] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE doc_id = ?1"),
            params![doc_id],
        )
        .map_err(unavailable)?;
    }
    for table in ["document_embeddings", "post_metrics_latest"] {
        conn.execute(
            &format!("DELETE FROM {table} WHERE doc_id = ?1"),
            params![doc_id],
        )
        .map_err(unavailable)?;
    }
    let n = conn
        .execute("DELETE FROM documents WHERE doc_id = ?1", params![doc_id])
        .map_err(unavailable)?;
    Ok(n > 0)
}

fn switch_epoch(
    conn: &Connection,
    doc_id: &str,
    epoch: i64,
    through_seq: i64,
    folded_updates: u64,
    state: Vec<u8>,
) -> Result<Option<Compaction>, StoreError> {
    let current: Option<i64> = conn
        .query_row(
            "SELECT epoch FROM documents WHERE doc_id = ?1",
            params![doc_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(unavailable)?;
    if current != Some(epoch) {
        return Ok(None); // compacted concurrently by someone else: nothing to do
    }
    // Updates appended after the fold was read are merged in, so none is dropped with the epoch.
    let mut stmt = conn
        .prepare_cached(
            "SELECT data FROM document_updates WHERE doc_id = ?1 AND epoch = ?2 AND seq > ?3 ORDER BY seq",
        )
        .map_err(unavailable)?;
    let tail: Vec<Vec<u8>> = stmt
        .query_map(params![doc_id, epoch, through_seq], |r| r.get(0))
        .map_err(unavailable)?
        .collect::<Result<_, _>>()
        .map_err(unavailable)?;
    let state = if tail.is_empty() {
        state
    } else {
        yrs::merge_updates_v1(std::iter::once(state).chain(tail))
            .map_err(|e| StoreError::Corrupt(e.to_string()))?
    };
    let next = epoch + 1;
    let mut insert = conn
        .prepare_cached(
            "INSERT OR REPLACE INTO document_snapshots (doc_id, epoch, chunk, data) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(unavailable)?;
    for (i, chunk) in state.chunks(SNAPSHOT_CHUNK_BYTES).enumerate() {
        insert
            .execute(params![doc_id, next, i as i64, chunk])
            .map_err(unavailable)?;
    }
    conn.execute(
        "UPDATE documents SET epoch = ?2 WHERE doc_id = ?1",
        params![doc_id, next],
    )
    .map_err(unavailable)?;
    conn.execute(
        "DELETE FROM document_updates WHERE doc_id = ?1 AND epoch = ?2",
        params![doc_id, epoch],
    )
    .map_err(unavailable)?;
    conn.execute(
        "DELETE FROM document_snapshots WHERE doc_id = ?1 AND epoch = ?2",
        params![doc_id, epoch],
    )
    .map_err(unavailable)?;
    Ok(Some(Compaction {
        epoch: next,
        snapshot_bytes: state.len() as u64,
        folded_updates,
    }))
}
