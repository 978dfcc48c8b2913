//! What every request handler, socket and job shares: `AppState`, built once by `server.rs`.
//! Handlers in `http/` take it from actix's app data; nothing here knows about HTTP routes.

pub mod proxies;
pub mod revocations;
pub mod workflow;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;

use crate::actors::account::Accounts;
use crate::actors::registry::DocumentRegistry;
use crate::actors::session::ConnectionSlots;
use crate::auth::TokenKeys;
use crate::billing::limits::RequestLimiter;
use crate::bus::limits::SharedLimits;
use crate::bus::Bus;
use crate::config::Config;
use crate::store::{StoreHealth, Stores};

pub struct AppState {
    pub config: Arc<Config>,
    pub keys: Arc<TokenKeys>,
    /// One handle per stored aggregate.
    pub stores: Stores,
    /// Revocations as this node knows them (read on every connect and document request).
    pub revocations: Arc<revocations::RevocationCache>,
    pub registry: Arc<DocumentRegistry>,
    pub slots: Arc<ConnectionSlots>,
    pub metrics: PrometheusHandle,
    pub shutting_down: Arc<AtomicBool>,
    pub health: Arc<StoreHealth>,
    pub bus: Arc<Bus>,
    pub limits: Arc<SharedLimits>,
    pub accounts: Arc<Accounts>,
    /// Whether a login session is still live (checked on every request made with its token).
    pub logins: Arc<crate::auth::sessions::SessionGate>,
    pub request_limits: Arc<RequestLimiter>,
    /// The inference pool (its supervisor runs on the main thread).
    pub pool: crate::gpu::Pool,
    /// The job queue: RabbitMQ when `amqp_url` is set, the store otherwise.
    pub jobs: Arc<crate::queue::JobQueue>,
    /// Events for editors' sockets (every node) and webhook endpoints.
    pub events: Arc<crate::events::Events>,
    pub search: Arc<crate::ai::index::SearchIndex>,
    pub hashtags: Arc<crate::ai::vocabulary::Vocabulary>,
    /// Bounds concurrent password hashes (each takes `argon2_memory_kib` and tens of ms of CPU).
    pub password_hashing: Arc<tokio::sync::Semaphore>,
    /// A password hash verified when a login names an unknown email, so the answer takes as
    /// long as for a known one.
    pub decoy_hash: Arc<str>,
    /// Where outgoing HTTP (webhooks, publishing) may go, and its client.
    pub outbound: crate::outbound::Outbound,
    /// Whose client-address header is believed.
    pub proxies: proxies::Proxies,
    /// Seals the secrets kept in the store (webhook signing secrets).
    pub sealer: Arc<crate::auth::sealed::SecretBox>,
    /// Present only with `fault_injection` on.
    pub faults: Option<Arc<crate::store::faults::FaultInjectingStore>>,
    /// The media library: uploads, and where their bytes live.
    pub media: crate::media::Library,
}
