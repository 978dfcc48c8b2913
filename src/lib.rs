//! creo: a real-time collaboration server for AI-assisted content creation.
//!
//! The modules, from the top layer down; each imports only from layers below it, and the rules
//! without I/O live in the `creo-core` crate (`crates/creo-core`). `docs/architecture.md` has
//! the whole map and the path of one edit.
//!
//! - `server`: wiring, `serve`/`serve_on`, graceful shutdown.
//! - `http`: thin handlers (REST, the socket upgrade, the built editor); `http::extract` says
//!   who is asking, `http::codes` is the table of error codes.
//! - `app`: `AppState`, and the use cases REST and jobs share (`app::workflow`).
//! - `jobs`: handlers of queued work (publishing, webhook delivery, generation, mail).
//! - `events`: events to editors (every node), webhooks and people; `notify`: who hears about
//!   what (inbox, live streams, email jobs); `queue`: where jobs wait.
//! - `actors`: a `DocumentActor` per live document (wrapping `creo_core::live::LiveDoc`), a
//!   `SessionActor` per socket, an `AccountActor` per account in use, and their registries.
//! - `ai` (search, hashtags, the AI collaborator) over `gpu` (the supervised inference pool).
//! - `bus` (Redis fan-out), `auth` (tokens, passwords, login sessions), `billing` (request
//!   limits, payment webhooks), `socket` (the WebSocket after the upgrade), `snapshot`,
//!   `outbound`, `mail` (SMTP and what emails say), `webhooks`, `telemetry`.
//! - `operator`: what an operator does from the command line on the store itself.
//! - `store`: the `creo-store` crates seen from here (one trait per aggregate; the embedded
//!   SQLite and the ScyllaDB backends); `config`.

pub mod actors;
pub mod ai;
pub mod app;
pub mod auth;
pub mod billing;
pub mod channels;
pub use creo_core::{
    analytics, comments, fields, generations, platforms, slots, sync, text, versions, workflow,
};
pub mod bus;
pub mod config;
pub mod events;
pub mod gpu;
pub mod http;
pub mod jobs;
pub mod mail;
pub mod media;
pub mod notify;
pub mod operator;
pub mod outbound;
pub use creo_store::private_files;
pub mod queue;
pub mod server;
pub mod snapshot;
pub mod socket;
pub mod store;
pub mod telemetry;
pub mod webhooks;
