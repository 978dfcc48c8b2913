//! The ScyllaDB backend, for clusters: `CREO_STORE=scylla://host1:9042,host2:9042/keyspace`.
//!
//! Choices made on purpose:
//! - every statement is prepared once at connect, so requests are routed token-aware to a
//!   replica of their partition (`DefaultPolicy` with token awareness, shard aware);
//! - writes of updates and reads at QUORUM by default (configurable), document creation and
//!   epoch switches as lightweight transactions with LOCAL_SERIAL, read back at SERIAL;
//! - client-side monotonic timestamps, so a late duplicate of a timed-out write can never
//!   overwrite a newer value;
//! - a request timeout, the default retry policy (which retries only what is safe), and
//!   speculative execution for idempotent reads, so one slow replica does not stall a load.
//!
//! The data model is `schema.cql`; its comments explain the epoch protocol. Each aggregate's
//! queries are in the file named after it (`documents.rs`, `ledger.rs` for accounts' money).

mod account_rows;
mod brand;
mod channel_rows;
mod media;
mod notification_rows;
mod webhook_rows;
mod workflow_rows;

mod accounts;
mod analytics;
mod api_keys;
mod audit;
mod channels;
mod comments;
mod documents;
mod embeddings;
mod generations;
mod invitations;
mod jobs;
mod ledger;
mod login_sessions;
mod members;
mod mfa;
mod notifications;
mod one_time_tokens;
mod payment_events;
mod revocations;
mod users;
mod versions;
mod webhooks;
mod workflows;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::TryStreamExt;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::deserialize::row::DeserializeRow;
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::policies::retry::DefaultRetryPolicy;
use scylla::policies::speculative_execution::SimpleSpeculativeExecutionPolicy;
use scylla::policies::timestamp_generator::MonotonicTimestampGenerator;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlTimestamp, CqlValue, Row};

use creo_store::{documents::*, now_ms, unavailable, StoreError};

/// Tuning for the ScyllaDB backend (from `Config`).
#[derive(Debug, Clone)]
pub struct ScyllaOptions {
    /// The replication map `creo migrate` gives the keyspace.
    pub replication: String,
    pub request_timeout: Duration,
    pub write_consistency: Consistency,
    pub read_consistency: Consistency,
}

impl Default for ScyllaOptions {
    fn default() -> Self {
        ScyllaOptions {
            replication: "{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}".into(),
            request_timeout: Duration::from_secs(5),
            write_consistency: Consistency::Quorum,
            read_consistency: Consistency::Quorum,
        }
    }
}

pub fn parse_consistency(name: &str) -> Result<Consistency, StoreError> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "one" => Consistency::One,
        "local_one" => Consistency::LocalOne,
        "quorum" => Consistency::Quorum,
        "local_quorum" => Consistency::LocalQuorum,
        "each_quorum" => Consistency::EachQuorum,
        "all" => Consistency::All,
        other => {
            return Err(StoreError::Unavailable(format!(
                "unknown consistency {other}"
            )))
        }
    })
}

struct Statements {
    meta: PreparedStatement,
    meta_serial: PreparedStatement,
    claim: PreparedStatement,
    set_title: PreparedStatement,
    list_document: PreparedStatement,
    unlist_document: PreparedStatement,
    documents_of: PreparedStatement,
    snapshot: PreparedStatement,
    log: PreparedStatement,
    append: PreparedStatement,
    put_chunk: PreparedStatement,
    switch_epoch: PreparedStatement,
    drop_log: PreparedStatement,
    drop_snapshots: PreparedStatement,
    drop_document: PreparedStatement,
    revoke: PreparedStatement,
    lift_revocation: PreparedStatement,
    revocations: PreparedStatement,
    is_revoked: PreparedStatement,
    put_embedding: PreparedStatement,
    drop_embedding: PreparedStatement,
    embeddings: PreparedStatement,
}

/// A prepared statement with its consistency, and whether the driver may retry it (a
/// conditional write is not idempotent: a retry could see its own first success as a conflict).
async fn prepare(
    session: &Session,
    cql: &str,
    consistency: Consistency,
    idempotent: bool,
) -> Result<PreparedStatement, StoreError> {
    let mut p = session.prepare(cql).await.map_err(unavailable)?;
    p.set_consistency(consistency);
    p.set_is_idempotent(idempotent);
    Ok(p)
}

pub struct ScyllaStore {
    session: Session,
    st: Statements,
    accounts: account_rows::Statements,
    workflow: workflow_rows::Statements,
    webhooks: webhook_rows::Statements,
    channels: channel_rows::Statements,
    notes: notification_rows::Statements,
    media: media::Statements,
    brand: brand::Statements,
    write_consistency: Consistency,
    next_seq: AtomicU64,
}

/// `candidate`, or one past the last value handed out if that is not smaller: strictly
/// increasing even when the clock stands still or steps back.
fn monotonic_after(last: &AtomicU64, candidate: u64) -> u64 {
    let prev = last
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |l| {
            Some(candidate.max(l + 1))
        })
        .unwrap_or(0);
    candidate.max(prev + 1)
}

/// `scylla://host1:9042,host2:9042/keyspace` → hosts and keyspace (default `creo`).
pub fn parse_uri(uri: &str) -> Result<(Vec<String>, String), StoreError> {
    let rest = uri
        .strip_prefix("scylla://")
        .ok_or_else(|| unavailable(format!("not a scylla:// URI: {uri}")))?;
    let (hosts, keyspace) = rest.split_once('/').unwrap_or((rest, "creo"));
    let hosts: Vec<String> = hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect();
    let valid_ks = !keyspace.is_empty()
        && keyspace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if hosts.is_empty() || !valid_ks {
        return Err(unavailable(format!("bad scylla URI {uri}")));
    }
    Ok((hosts, keyspace.to_string()))
}

/// The statements of `schema.cql`, for `keyspace` and `replication`.
pub fn schema_statements(keyspace: &str, replication: &str) -> Vec<String> {
    let cql: String = include_str!("../../../schema.cql")
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n");
    cql.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let s = s.replace("creo.", &format!("{keyspace}."));
            if s.starts_with("CREATE KEYSPACE") {
                format!(
                    "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {replication} AND durable_writes = true"
                )
            } else {
                s
            }
        })
        .collect()
}

impl ScyllaStore {
    /// Connects, applies the schema (idempotent) and prepares every statement.
    pub async fn connect(
        uri: &str,
        options: &ScyllaOptions,
    ) -> Result<Arc<ScyllaStore>, StoreError> {
        let (hosts, keyspace) = parse_uri(uri)?;
        let profile = ExecutionProfile::builder()
            .consistency(options.read_consistency)
            .serial_consistency(Some(SerialConsistency::LocalSerial))
            .request_timeout(Some(options.request_timeout))
            .load_balancing_policy(DefaultPolicy::builder().token_aware(true).build())
            .retry_policy(Arc::new(DefaultRetryPolicy::new()))
            .speculative_execution_policy(Some(Arc::new(SimpleSpeculativeExecutionPolicy {
                max_retry_count: 2,
                retry_interval: Duration::from_millis(100),
            })))
            .build();
        let session = SessionBuilder::new()
            .known_nodes(&hosts)
            .connection_timeout(Duration::from_secs(5))
            .timestamp_generator(Arc::new(MonotonicTimestampGenerator::new()))
            .default_execution_profile_handle(profile.into_handle())
            .build()
            .await
            .map_err(unavailable)?;
        for statement in schema_statements(&keyspace, &options.replication) {
            session
                .query_unpaged(statement, &[])
                .await
                .map_err(unavailable)?;
        }
        session
            .await_schema_agreement()
            .await
            .map_err(unavailable)?;
        session
            .use_keyspace(&keyspace, false)
            .await
            .map_err(unavailable)?;

        let w = options.write_consistency;
        let prepare =
            |cql, consistency, idempotent| prepare(&session, cql, consistency, idempotent);
        let r = options.read_consistency;
        let st = Statements {
            meta: prepare(
                "SELECT account_id, epoch, snapshot_id, created_at, updated_at, title FROM documents WHERE doc_id = ?",
                r,
                true,
            )
            .await?,
            meta_serial: prepare(
                "SELECT account_id, epoch, snapshot_id, created_at, updated_at, title FROM documents WHERE doc_id = ?",
                Consistency::Serial,
                true,
            )
            .await?,
            claim: prepare(
                "INSERT INTO documents (doc_id, account_id, epoch, snapshot_id, created_at, updated_at) \
                 VALUES (?, ?, 0, 0, ?, ?) IF NOT EXISTS",
                w,
                false,
            )
            .await?,
            // IF EXISTS: a rename racing a delete must not bring back a row without an owner.
            set_title: prepare(
                "UPDATE documents SET title = ? WHERE doc_id = ? IF EXISTS",
                w,
                false,
            )
            .await?,
            list_document: prepare(
                "INSERT INTO documents_by_account (account_id, doc_id, created_at) VALUES (?, ?, ?)",
                w,
                true,
            )
            .await?,
            unlist_document: prepare(
                "DELETE FROM documents_by_account WHERE account_id = ? AND doc_id = ?",
                w,
                true,
            )
            .await?,
            documents_of: prepare(
                "SELECT doc_id FROM documents_by_account WHERE account_id = ?",
                r,
                true,
            )
            .await?,
            snapshot: prepare(
                "SELECT chunk, data FROM document_snapshots WHERE doc_id = ? AND epoch = ? AND snapshot_id = ?",
                r,
                true,
            )
            .await?,
            log: prepare(
                "SELECT seq, data FROM document_updates WHERE doc_id = ? AND epoch = ?",
                r,
                true,
            )
            .await?,
            // Same key, same bytes: retrying an append is harmless (and merges are idempotent).
            append: prepare(
                "INSERT INTO document_updates (doc_id, epoch, seq, data) VALUES (?, ?, ?, ?)",
                w,
                true,
            )
            .await?,
            put_chunk: prepare(
                "INSERT INTO document_snapshots (doc_id, epoch, snapshot_id, chunk, data) VALUES (?, ?, ?, ?, ?)",
                w,
                true,
            )
            .await?,
            switch_epoch: prepare(
                "UPDATE documents SET epoch = ?, snapshot_id = ?, updated_at = ? WHERE doc_id = ? IF epoch = ?",
                w,
                false,
            )
            .await?,
            drop_log: prepare(
                "DELETE FROM document_updates WHERE doc_id = ? AND epoch = ?",
                w,
                true,
            )
            .await?,
            drop_snapshots: prepare(
                "DELETE FROM document_snapshots WHERE doc_id = ? AND epoch = ?",
                w,
                true,
            )
            .await?,
            drop_document: prepare("DELETE FROM documents WHERE doc_id = ? IF EXISTS", w, false)
                .await?,
            revoke: prepare(
                "INSERT INTO access_revocations (account_id, user_id, scope, revoked_by, revoked_at) \
                 VALUES (?, ?, ?, ?, ?)",
                w,
                true,
            )
            .await?,
            // IF EXISTS: the answer says whether there was a revocation to lift.
            lift_revocation: prepare(
                "DELETE FROM access_revocations WHERE account_id = ? AND user_id = ? AND scope = ? IF EXISTS",
                w,
                false,
            )
            .await?,
            revocations: prepare(
                "SELECT user_id, scope, revoked_by, revoked_at FROM access_revocations WHERE account_id = ?",
                r,
                true,
            )
            .await?,
            is_revoked: prepare(
                "SELECT scope FROM access_revocations WHERE account_id = ? AND user_id = ? AND scope IN (?, ?)",
                r,
                true,
            )
            .await?,
            put_embedding: prepare(
                "INSERT INTO document_embeddings (account_id, model, doc_id, vector, text_hash, updated_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
                w,
                true,
            )
            .await?,
            drop_embedding: prepare(
                "DELETE FROM document_embeddings WHERE account_id = ? AND model = ? AND doc_id = ?",
                w,
                true,
            )
            .await?,
            embeddings: prepare(
                "SELECT doc_id, vector, text_hash, updated_at FROM document_embeddings WHERE account_id = ? AND model = ?",
                r,
                true,
            )
            .await?,
        };
        let accounts = account_rows::Statements::prepare(&session, r, w).await?;
        let workflow = workflow_rows::Statements::prepare(&session, r, w).await?;
        let webhooks = webhook_rows::Statements::prepare(&session, r, w).await?;
        let channels = channel_rows::Statements::prepare(&session, r, w).await?;
        let notes = notification_rows::Statements::prepare(&session, r, w).await?;
        let media = media::Statements::prepare(&session, r, w).await?;
        let brand = brand::Statements::prepare(&session, r, w).await?;
        Ok(Arc::new(ScyllaStore {
            session,
            st,
            accounts,
            workflow,
            webhooks,
            channels,
            notes,
            media,
            brand,
            write_consistency: w,
            next_seq: AtomicU64::new(0),
        }))
    }

    /// Log keys unique across nodes and roughly time-ordered: milliseconds since 2020 in the
    /// high bits, a per-process random node tag and a counter below. Order within one node's
    /// appends is exact; across nodes a CRDT needs none.
    fn next_seq(&self) -> i64 {
        static NODE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let node = *NODE.get_or_init(|| rand::random::<u64>() & 0x3ff);
        let ms = (now_ms() - 1_577_836_800_000).max(0) as u64;
        monotonic_after(&self.next_seq, (ms << 22) | (node << 12)) as i64
    }

    async fn read_meta(
        &self,
        doc_id: &str,
        statement: &PreparedStatement,
    ) -> Result<Option<(DocumentMeta, i64)>, StoreError> {
        let rows = self
            .session
            .execute_unpaged(statement, (doc_id,))
            .await
            .map_err(unavailable)?
            .into_rows_result()
            .map_err(unavailable)?;
        let row = rows
            .maybe_first_row::<(String, i64, i64, CqlTimestamp, CqlTimestamp, Option<String>)>()
            .map_err(unavailable)?;
        Ok(row.map(
            |(account_id, epoch, snapshot_id, created, updated, title)| {
                (
                    DocumentMeta {
                        doc_id: doc_id.to_string(),
                        account_id,
                        epoch,
                        created_at_ms: created.0,
                        updated_at_ms: updated.0,
                        title: title.unwrap_or_default(),
                    },
                    snapshot_id,
                )
            },
        ))
    }

    async fn read_log(&self, doc_id: &str, epoch: i64) -> Result<Vec<Vec<u8>>, StoreError> {
        if epoch < 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<(i64, Vec<u8>)> = self.all_rows(&self.st.log, (doc_id, epoch)).await?;
        Ok(rows.into_iter().map(|(_, data)| data).collect())
    }

    /// Every row of a paged read (a log or snapshot partition can exceed one page).
    async fn all_rows<R>(
        &self,
        statement: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Vec<R>, StoreError>
    where
        R: for<'frame, 'metadata> DeserializeRow<'frame, 'metadata>,
    {
        self.session
            .execute_iter(statement.clone(), values)
            .await
            .map_err(unavailable)?
            .rows_stream::<R>()
            .map_err(unavailable)?
            .try_collect()
            .await
            .map_err(unavailable)
    }

    /// The `[applied]` column of a lightweight transaction's answer (followed by the current
    /// values when it did not apply).
    fn applied(result: scylla::response::query_result::QueryResult) -> Result<bool, StoreError> {
        let row = result
            .into_rows_result()
            .map_err(unavailable)?
            .first_row::<Row>()
            .map_err(unavailable)?;
        Ok(matches!(
            row.columns.first(),
            Some(Some(CqlValue::Boolean(true)))
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_parse_into_hosts_and_keyspace() {
        let (hosts, ks) = parse_uri("scylla://a:9042,b:9042/creo_prod").unwrap();
        assert_eq!(hosts, ["a:9042", "b:9042"]);
        assert_eq!(ks, "creo_prod");
        assert_eq!(parse_uri("scylla://a:9042").unwrap().1, "creo");
        assert!(parse_uri("cassandra://a").is_err());
        assert!(parse_uri("scylla:///ks").is_err());
        assert!(parse_uri("scylla://a/bad-name;").is_err());
    }

    #[test]
    fn schema_statements_target_the_configured_keyspace() {
        let st = schema_statements(
            "ks1",
            "{'class': 'SimpleStrategy', 'replication_factor': 1}",
        );
        assert_eq!(st.len(), 50);
        assert!(st[0].starts_with(
            "CREATE KEYSPACE IF NOT EXISTS ks1 WITH replication = {'class': 'SimpleStrategy'"
        ));
        assert!(st[1..]
            .iter()
            .all(|s| s.contains("ks1.") && !s.contains("creo.")));
        assert!(st
            .iter()
            .any(|s| s.contains("PRIMARY KEY ((doc_id, epoch), seq)")));
    }

    #[test]
    fn log_keys_strictly_increase_even_when_the_clock_does_not() {
        let last = AtomicU64::new(0);
        let a = monotonic_after(&last, 5 << 22);
        let b = monotonic_after(&last, 5 << 22);
        let c = monotonic_after(&last, 4 << 22); // clock stepped back
        let d = monotonic_after(&last, 9 << 22);
        assert_eq!(a, 5 << 22);
        assert!(a < b && b < c && c < d);
        assert_eq!(d, 9 << 22);
    }
}
