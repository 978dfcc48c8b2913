//! One `Config`: embedded defaults, overridden by an optional TOML file (`CREO_CONFIG`), then by
//! `CREO_*` environment variables, then by command-line flags. Every limit lives here.

use std::path::PathBuf;
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Generates and stores a signing secret when none is configured.
    Dev,
    /// Refuses to start without a configured secret or public key.
    Production,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub addr: String,
    pub data: PathBuf,
    pub mode: Mode,
    /// `embedded` (SQLite under `data`) or `scylla://host1:9042,host2:9042/keyspace`.
    pub store: String,
    /// Replication map for the ScyllaDB keyspace, applied by `creo migrate` / first start.
    pub scylla_replication: String,
    pub scylla_request_timeout_ms: u64,
    /// Consistency of update writes and of reads (`quorum`, `local_quorum`, `one`, ...).
    pub scylla_write_consistency: String,
    pub scylla_read_consistency: String,
    /// SQLite `synchronous` pragma: `full` (fsync every group commit) or `normal` (survives a
    /// process crash, not a power cut).
    pub sqlite_synchronous: String,
    /// Most group commits (each an fsync) the embedded store makes a second once a short burst
    /// is spent; requests arriving faster share commits. 0: commit whenever a request waits.
    pub sqlite_commits_per_second: u32,
    /// HTTP worker threads; 0 means one per core.
    pub workers: usize,
    /// Threads dedicated to document actors. 0 (the default) runs each document on the worker
    /// thread of the connection that opened it, beside its sessions: on a small machine the
    /// wake-ups between separate session and document threads cost more than they save.
    pub document_threads: usize,
    pub log: String,

    /// HS256 secret. Takes precedence over a generated dev secret.
    pub jwt_secret: Option<String>,
    /// 32 bytes (64 hex characters) sealing the secrets the server keeps (webhook signing
    /// secrets). In development mode one is generated under the data directory.
    pub secrets_key: Option<String>,
    /// PEM public key for RS256/ES256/EdDSA verification (instead of HS256).
    pub jwt_public_key: Option<PathBuf>,
    /// PEM private key matching `jwt_public_key`, needed only by `creo token`.
    pub jwt_private_key: Option<PathBuf>,
    /// `RS256`, `ES256` or `EdDSA` when a public key is configured.
    pub jwt_algorithm: Option<String>,

    pub max_message_bytes: usize,
    pub max_document_bytes: u64,
    pub max_connections_per_document: usize,
    pub max_connections_per_user: usize,
    /// Sustained messages per second one session may send, and the burst above it. Past them
    /// the session stops reading its socket until the rate allows more (nothing is refused).
    pub session_messages_per_second: u32,
    pub session_message_burst: u32,
    /// A session kept waiting for its rate this long without a break is closed (4529, which
    /// clients retry): the last resort against a client that never slows down.
    pub rate_limit_close_after_ms: u64,
    pub ping_interval_ms: u64,
    /// A session that sends nothing (not even a pong) for this long is closed.
    pub ping_timeout_ms: u64,
    /// Frames queued for one session before it counts as fallen behind and is disconnected.
    pub outbound_queue_frames: usize,
    /// Bytes of frames queued for one session before it counts as fallen behind (the answer to
    /// its SyncStep1, one at a time, is not counted: it is as large as the document).
    pub outbound_queue_bytes: usize,
    /// y-protocols messages one WebSocket frame may carry (y-websocket sends one).
    pub max_messages_per_frame: usize,
    /// Nesting of values in one update (arrays, maps, JSON attributes). Deeper updates are
    /// refused before decoding: yrs decodes them recursively.
    pub max_update_depth: usize,
    /// Structs, clients and deleted ranges one update from a client may hold.
    pub max_update_structs: usize,
    pub max_update_clients: usize,
    pub max_update_delete_ranges: usize,
    /// Client ids one awareness message may carry, and bytes of one client's state.
    pub max_awareness_entries: usize,
    pub max_awareness_state_bytes: usize,
    /// Bytes and frames a session may have waiting for its document; past either it stops
    /// reading its socket until the document catches up (TCP pushes back on the client).
    pub inbound_inflight_bytes: usize,
    pub inbound_inflight_frames: usize,
    /// Updates that build on content the document does not have yet (edits a client sends
    /// before its SyncStep2 carries what they follow) wait, per session, up to this many bytes
    /// and this long; past either the session is closed to resync.
    pub max_parked_bytes: usize,
    pub parked_timeout_ms: u64,
    pub awareness_clients_per_session: usize,
    /// How long an unused document stays loaded after its last session leaves.
    pub unload_grace_ms: u64,
    /// Most updates of one document written in one group commit.
    pub commit_max_updates: usize,
    /// Bytes of one document waiting for the store before new writes are refused.
    pub max_pending_bytes: usize,
    /// A store write that takes longer counts as failed and is retried (it may still land:
    /// writing an update twice is harmless, merges are idempotent).
    pub store_write_timeout_ms: u64,
    /// Compact the update log into a snapshot after this many updates or bytes.
    pub compact_after_updates: u64,
    pub compact_after_bytes: u64,
    pub shutdown_timeout_ms: u64,
    /// Wraps the store in `FaultInjectingStore` and serves `/debug/store-faults` (tests only).
    pub fault_injection: bool,

    /// `redis://host:6379/` turns on cluster mode: updates, presence, shared limits and
    /// revocations cross nodes through Redis. Unset, the node runs alone.
    pub redis_url: Option<String>,
    /// Prefix of every Redis channel and key, so several clusters can share one Redis.
    pub bus_prefix: String,
    /// How often a node announces it is alive, and after how long without a word it counts as
    /// gone (its presence is dropped and its documents reload from the store).
    pub bus_heartbeat_ms: u64,
    pub bus_node_timeout_ms: u64,
    /// Bus messages queued for one document before it stops taking them and resyncs instead.
    pub bus_queue_per_document: usize,
    /// Messages waiting to be published before new ones count as lost (and receivers resync).
    pub bus_publish_queue: usize,
    /// Documents reloading from the store at once after a bus reconnect.
    pub bus_resync_concurrency: usize,
    /// A Redis command that takes longer counts as failed.
    pub redis_timeout_ms: u64,
    /// A connection's place in the cluster-wide counts lives this long unless renewed (so a
    /// crashed node's connections stop counting).
    pub connection_lease_ms: u64,
    /// Messages per second one user may send over all their connections (across nodes with
    /// Redis), and the burst above it. 0 turns the limit off.
    pub user_messages_per_second: u32,
    pub user_message_burst: u32,
    /// Presence from another node that is not renewed within this time is dropped (Yjs clients
    /// renew every 15 s and drop others' states after 30 s).
    pub awareness_timeout_ms: u64,

    /// Lifetime of access tokens issued at login and refresh.
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token (each refresh issues a new one).
    pub refresh_token_ttl_secs: u64,
    /// A refresh token presented again this soon after it was spent is a concurrent refresh
    /// (two tabs of one browser), answered with a sibling token; later it is reuse.
    pub refresh_grace_ms: u64,
    /// argon2id cost for passwords: memory (KiB), iterations, lanes.
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_lanes: u32,
    /// Most concurrent password hashes (each holds `argon2_memory_kib` of memory).
    pub password_hash_concurrency: usize,
    /// How long a node trusts that a login session is live before asking the store again
    /// (revocations reach every node at once through the bus regardless).
    pub session_check_ms: u64,
    /// Wrong passwords for one email from one client address before each further try waits,
    /// doubling from a second up to `login_backoff_max_ms` (across nodes with Redis). Counted
    /// per address too, so one who guesses cannot lock the owner out from elsewhere.
    pub login_free_failures: u32,
    /// Wrong passwords from one address, whatever the email (password spraying).
    pub login_free_failures_per_address: u32,
    pub login_backoff_max_ms: u64,
    /// Per client address: requests to the routes that need no sign-in (sign-in, refresh,
    /// invitations, the payment webhook) per minute, new accounts per hour, socket upgrades per
    /// minute. 0 turns one off.
    pub auth_requests_per_minute: u32,
    pub signups_per_hour: u32,
    pub upgrades_per_minute: u32,
    /// Proxies whose client-address header is believed (comma-separated networks), and the
    /// header. Empty: the peer address is the client.
    pub trusted_proxies: String,
    pub client_ip_header: String,
    pub invitation_ttl_secs: u64,
    /// Longest lifetime of a token an API key mints for an app's user.
    pub app_token_max_ttl_secs: u64,
    /// Credits given to a new account, in milli-credits.
    pub signup_credits_milli: i64,
    /// A reservation not captured or released within this time is released.
    pub reservation_ttl_ms: u64,
    /// Most charges of one account sent to the store in one batch.
    pub charge_batch: usize,
    /// How often an account actor reloads its cached account, and when an unused one stops.
    pub account_refresh_ms: u64,
    pub account_idle_ms: u64,
    /// Shared secret of the payment provider's webhook signatures (unset: the webhook is off).
    pub billing_webhook_secret: Option<String>,
    /// Signed webhooks older (or newer) than this are refused as replays.
    pub billing_webhook_tolerance_secs: i64,
    /// The models folder: `<name>/<version>/manifest.toml` (see `scripts/install-models.sh`).
    pub models: PathBuf,
    /// The built browser editor (`npm run build` in `frontend/`), served at `/` when present.
    pub frontend: PathBuf,
    /// The ONNX Runtime shared library; default: the one `install-models.sh` puts under
    /// `models` (or `ORT_DYLIB_PATH`).
    pub onnxruntime_lib: Option<PathBuf>,
    /// How often the models folder is rescanned for added, changed or removed models.
    pub model_scan_ms: u64,
    /// ONNX Runtime threads per model worker (0: one per core).
    pub inference_threads: usize,
    /// A request not answered within this time fails (504) and is dropped from its batch.
    pub inference_timeout_ms: u64,
    /// The model behind `/api/v1/ai/embed`, search, hashtags and brand voice.
    pub embedding_model: String,
    /// A hashtag is suggested only when it is at least this close to the post (cosine
    /// similarity, after the vocabulary's rules; calibrated for `all-minilm-l6-v2`).
    pub hashtag_min_score: f32,
    /// A document is re-embedded for search once it has had no update for this long.
    pub search_settle_ms: u64,
    /// A node reloads an account's search index from the store when it is older than this
    /// (documents indexed on other nodes).
    pub search_refresh_ms: u64,
    /// `amqp://host:5672/%2f` carries jobs (scheduled publishing) through RabbitMQ; unset, they
    /// go through a queue persisted in the store.
    pub amqp_url: Option<String>,
    /// Prefix of the queues (several deployments, or tests, can share a broker).
    pub amqp_prefix: String,
    /// `creo serve` also runs the job consumers (`creo worker` runs them alone).
    pub jobs_in_process: bool,
    /// Jobs a consumer holds unacknowledged at once.
    pub job_prefetch: u16,
    /// Tries before a job is dead-lettered, and the first retry's delay (doubling, jittered).
    pub job_max_attempts: u32,
    pub job_retry_base_ms: u64,
    /// Without RabbitMQ: how long a claimed job is its worker's before another may take it.
    pub job_lease_ms: u64,
    /// Where scheduled posts are delivered (a signed webhook), and its signing secret.
    pub publish_webhook_url: Option<String>,
    pub publish_webhook_secret: Option<String>,
    /// How long a webhook or publishing destination may take to answer.
    pub publish_timeout_ms: u64,
    /// Ports outgoing requests (webhooks, publishing) may use, comma-separated.
    pub outbound_ports: String,
    /// Networks outgoing requests may reach although they are private, loopback or reserved
    /// (comma-separated CIDRs or addresses; any port). Empty: public addresses only.
    pub outbound_allow: String,
    /// The `generic` platform's limits (posts scheduled without platform targets).
    pub publish_max_chars: usize,
    pub publish_max_hashtags: usize,
    /// `document.updated` webhook events wait until a document's edits pause this long.
    pub webhook_debounce_ms: u64,
    /// A destination's circuit opens after this many failures in a row, and stays open this
    /// long before one trial request.
    pub breaker_failures: u32,
    pub breaker_open_ms: u64,
    /// Approvals a document needs unless its account set its own number.
    pub workflow_required_approvals: u32,

    /// Email: off unless set. `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS); see docs/notifications.md.
    pub smtp_url: Option<String>,
    /// Who creo's mail is from: `creo <noreply@example.com>`. Required with `smtp_url`.
    pub mail_from: Option<String>,
    pub smtp_timeout_ms: u64,
    /// The editor's address as people reach it (links in emails). Default: `http://` + `addr`.
    pub public_url: Option<String>,
    /// Where media bytes live: unset for the local filesystem under `data/media`, or
    /// `s3://bucket[/prefix]` for an S3-compatible store (credentials and region from the
    /// standard `AWS_*` variables), which several nodes share.
    pub media_store: Option<String>,
    /// The S3 endpoint when it is not AWS's (MinIO, Ceph, moto): `https://s3.example.com`.
    pub media_s3_endpoint: Option<String>,
    /// How long a resumable upload waits for its next bytes before it is swept.
    pub upload_expiry_secs: u64,
    /// What the resumable uploads open on this node may add up to (their declared lengths):
    /// the disk they may take under `CREO_DATA/media-uploads`.
    pub upload_pending_bytes: u64,
    /// Length of the hourly and daily email digest windows (shorter in tests).
    pub digest_hour_ms: u64,
    pub digest_day_ms: u64,
    /// How long a password-reset link works.
    pub password_reset_ttl_secs: u64,
    /// How long an email verification or email change link works (at most a day: the ScyllaDB
    /// table keeps tokens that long).
    pub email_verification_ttl_secs: u64,
    /// What a person whose email is unverified may spend of an account, in milli-credits, while
    /// email is on (with email off nothing can be verified, and nobody is held to it).
    pub unverified_allowance_milli: i64,
    /// How long the second step of a sign-in with a second factor may wait for its code.
    pub mfa_challenge_ttl_secs: u64,
    /// Wrong second-factor codes a person may give for free; after the next one, each further
    /// try waits, doubling from a second up to `login_backoff_max_ms` (as `login_free_failures`).
    pub mfa_free_failures: u32,
    /// Open live inbox streams one person may hold (tabs, devices) on one node.
    pub inbox_streams_per_user: usize,
    /// A comment on an idle inbox stream this often, so proxies keep it open and a client that
    /// went away is noticed (its stream slot freed) within this long.
    pub inbox_heartbeat_ms: u64,
    /// Owners hear when a charge takes the available credits below this (milli-credits).
    pub low_credits_milli: i64,
    /// The OAuth apps channels connect through, by platform (`x`, `linkedin`):
    /// `CREO_PLATFORMS__X__CLIENT_ID=…`. A platform without one cannot be connected.
    pub platforms: std::collections::BTreeMap<String, PlatformApp>,
    /// The first metrics poll of a published post comes this long after it went out; later
    /// ones at 6, 24, 72 and 168 times this (`jobs/collect.rs`).
    pub metrics_poll_first_ms: u64,
    /// A finished generation's variations nobody chose are dropped this long after it
    /// finished (seed 004 §7.5: 30 days).
    pub generation_retention_ms: u64,
    pub tiers: creo_core::billing::Tiers,
    pub prices: creo_core::billing::Prices,
}

/// An operator's OAuth 2.0 app on one platform. The endpoints default to the platform's
/// published ones (`channels::apps`); tests and proxies set their own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlatformApp {
    pub client_id: String,
    /// Confidential clients only; public clients rely on PKCE alone.
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(default)]
    pub auth_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    /// Where its publishing API is (`https://api.x.com`).
    #[serde(default)]
    pub api_url: Option<String>,
    /// Space-separated; default: what publishing needs.
    #[serde(default)]
    pub scopes: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            addr: "127.0.0.1:8080".into(),
            data: PathBuf::from("./data"),
            mode: Mode::Dev,
            store: "embedded".into(),
            scylla_replication: "{'class': 'NetworkTopologyStrategy', 'replication_factor': 3}"
                .into(),
            scylla_request_timeout_ms: 5_000,
            scylla_write_consistency: "quorum".into(),
            scylla_read_consistency: "quorum".into(),
            sqlite_synchronous: "full".into(),
            sqlite_commits_per_second: 250,
            workers: 0,
            document_threads: 0,
            log: "info".into(),
            jwt_secret: None,
            secrets_key: None,
            jwt_public_key: None,
            jwt_private_key: None,
            jwt_algorithm: None,
            max_message_bytes: 4 << 20,
            max_document_bytes: 64 << 20,
            max_connections_per_document: 1000,
            max_connections_per_user: 100,
            session_messages_per_second: 2_000,
            session_message_burst: 25_000,
            rate_limit_close_after_ms: 30_000,
            ping_interval_ms: 15_000,
            ping_timeout_ms: 45_000,
            outbound_queue_frames: 1024,
            outbound_queue_bytes: 16 << 20,
            max_messages_per_frame: 16,
            max_update_depth: 32,
            max_update_structs: 1 << 20,
            max_update_clients: 1 << 16,
            max_update_delete_ranges: 1 << 20,
            max_awareness_entries: 16_384,
            max_awareness_state_bytes: 16 << 10,
            inbound_inflight_bytes: 4 << 20,
            inbound_inflight_frames: 256,
            max_parked_bytes: 4 << 20,
            parked_timeout_ms: 10_000,
            awareness_clients_per_session: 8,
            unload_grace_ms: 5_000,
            commit_max_updates: 1024,
            max_pending_bytes: 16 << 20,
            store_write_timeout_ms: 10_000,
            compact_after_updates: 1_000,
            compact_after_bytes: 4 << 20,
            shutdown_timeout_ms: 10_000,
            fault_injection: false,
            redis_url: None,
            bus_prefix: "creo".into(),
            bus_heartbeat_ms: 1_000,
            bus_node_timeout_ms: 3_000,
            bus_queue_per_document: 4_096,
            bus_publish_queue: 65_536,
            bus_resync_concurrency: 8,
            redis_timeout_ms: 1_000,
            connection_lease_ms: 30_000,
            user_messages_per_second: 4_000,
            user_message_burst: 50_000,
            awareness_timeout_ms: 30_000,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            refresh_grace_ms: 20_000,
            argon2_memory_kib: 19 * 1024,
            argon2_iterations: 2,
            argon2_lanes: 1,
            password_hash_concurrency: 4,
            login_free_failures: 5,
            login_free_failures_per_address: 50,
            login_backoff_max_ms: 15 * 60 * 1000,
            auth_requests_per_minute: 120,
            signups_per_hour: 10,
            upgrades_per_minute: 600,
            trusted_proxies: String::new(),
            client_ip_header: "x-forwarded-for".into(),
            session_check_ms: 5_000,
            invitation_ttl_secs: 7 * 24 * 3600,
            app_token_max_ttl_secs: 24 * 3600,
            signup_credits_milli: 10_000,
            reservation_ttl_ms: 15 * 60 * 1000,
            charge_batch: 256,
            account_refresh_ms: 10_000,
            account_idle_ms: 60_000,
            billing_webhook_secret: None,
            billing_webhook_tolerance_secs: 300,
            models: PathBuf::from("models"),
            frontend: PathBuf::from("frontend/dist"),
            onnxruntime_lib: None,
            model_scan_ms: 2_000,
            inference_threads: 0,
            inference_timeout_ms: 10_000,
            embedding_model: "all-minilm-l6-v2".into(),
            hashtag_min_score: 0.23,
            search_settle_ms: 2_000,
            search_refresh_ms: 30_000,
            workflow_required_approvals: 1,
            amqp_url: None,
            amqp_prefix: "creo".into(),
            jobs_in_process: true,
            job_prefetch: 16,
            job_max_attempts: 5,
            job_retry_base_ms: 1_000,
            job_lease_ms: 60_000,
            publish_webhook_url: None,
            publish_webhook_secret: None,
            publish_timeout_ms: 10_000,
            outbound_ports: "80,443".into(),
            outbound_allow: String::new(),
            publish_max_chars: 2_200,
            publish_max_hashtags: 30,
            webhook_debounce_ms: 2_000,
            breaker_failures: 5,
            breaker_open_ms: 30_000,
            smtp_url: None,
            mail_from: None,
            smtp_timeout_ms: 10_000,
            public_url: None,
            media_store: None,
            media_s3_endpoint: None,
            upload_expiry_secs: 86_400,
            upload_pending_bytes: 32 << 30,
            digest_hour_ms: 3_600_000,
            digest_day_ms: 86_400_000,
            password_reset_ttl_secs: 3_600,
            email_verification_ttl_secs: 86_400,
            unverified_allowance_milli: 2_000,
            mfa_challenge_ttl_secs: 300,
            mfa_free_failures: 5,
            inbox_streams_per_user: 8,
            inbox_heartbeat_ms: 20_000,
            low_credits_milli: 5_000,
            platforms: Default::default(),
            metrics_poll_first_ms: 3_600_000,
            generation_retention_ms: 30 * 86_400_000,
            tiers: creo_core::billing::Tiers::default(),
            prices: creo_core::billing::Prices::default(),
        }
    }
}

impl Config {
    /// Defaults, then the TOML file named by `CREO_CONFIG` (if any), then `CREO_*` variables.
    pub fn load() -> Result<Config, figment::Error> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Ok(path) = std::env::var("CREO_CONFIG") {
            fig = fig.merge(Toml::file_exact(path));
        }
        let mut config: Config = fig
            .merge(
                Env::prefixed("CREO_")
                    .ignore(&[
                        "config",
                        "jwt_secret",
                        "secrets_key",
                        "billing_webhook_secret",
                        "publish_webhook_secret",
                        "smtp_url",
                    ])
                    .split("__"),
            )
            .extract()?;
        // Taken verbatim: figment would parse a numeric-looking secret as a number.
        if let Ok(secret) = std::env::var("CREO_JWT_SECRET") {
            config.jwt_secret = Some(secret);
        }
        if let Ok(key) = std::env::var("CREO_SECRETS_KEY") {
            config.secrets_key = Some(key);
        }
        if let Ok(secret) = std::env::var("CREO_BILLING_WEBHOOK_SECRET") {
            config.billing_webhook_secret = Some(secret);
        }
        if let Ok(secret) = std::env::var("CREO_PUBLISH_WEBHOOK_SECRET") {
            config.publish_webhook_secret = Some(secret);
        }
        if let Ok(url) = std::env::var("CREO_SMTP_URL") {
            config.smtp_url = Some(url).filter(|u| !u.is_empty());
        }
        Ok(config)
    }

    /// Where links in emails point.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.addr))
    }

    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms)
    }
    pub fn ping_timeout(&self) -> Duration {
        Duration::from_millis(self.ping_timeout_ms)
    }
    pub fn unload_grace(&self) -> Duration {
        Duration::from_millis(self.unload_grace_ms)
    }
    pub fn awareness_timeout(&self) -> Duration {
        Duration::from_millis(self.awareness_timeout_ms.max(100))
    }
    /// Where outgoing HTTP may go, and its client.
    pub fn outbound(&self) -> anyhow::Result<crate::outbound::Outbound> {
        let policy = crate::outbound::Policy::parse(&self.outbound_ports, &self.outbound_allow)
            .map_err(|e| anyhow::anyhow!(e))?;
        Ok(crate::outbound::Outbound::new(
            policy,
            Duration::from_millis(self.publish_timeout_ms),
        ))
    }

    /// What one client frame may hold (`sync::decode_frame`).
    pub fn frame_limits(&self) -> crate::sync::FrameLimits {
        crate::sync::FrameLimits {
            max_messages: self.max_messages_per_frame.max(1),
            update: self.update_limits(),
            max_awareness_entries: self.max_awareness_entries,
            max_awareness_state_bytes: self.max_awareness_state_bytes,
        }
    }
    pub fn update_limits(&self) -> crate::sync::UpdateLimits {
        crate::sync::UpdateLimits {
            max_depth: self.max_update_depth,
            max_structs: self.max_update_structs,
            max_clients: self.max_update_clients,
            max_delete_ranges: self.max_update_delete_ranges,
            legacy_json: false,
        }
    }
    pub fn parked_timeout(&self) -> Duration {
        Duration::from_millis(self.parked_timeout_ms)
    }
    pub fn onnxruntime_library(&self) -> PathBuf {
        self.onnxruntime_lib
            .clone()
            .or_else(|| std::env::var_os("ORT_DYLIB_PATH").map(PathBuf::from))
            .unwrap_or_else(|| {
                self.models
                    .join(".vendor/onnxruntime/capi/libonnxruntime.so.1.31.1")
            })
    }
    pub fn inference_threads(&self) -> usize {
        if self.inference_threads > 0 {
            self.inference_threads
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        }
    }
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }
}
