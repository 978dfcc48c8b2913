//! creo: a real-time collaboration server for AI-assisted content creation. See docs/architecture.md for
//! the map; the path of an edit is `http/ws.rs` → `actors/session.rs` → `actors/document/` →
//! `store/`.

pub mod actors;
pub mod ai;
pub mod auth;
pub mod billing;
pub mod bus;
pub mod comments;
pub mod config;
pub mod events;
pub use creo_core::fields;
pub mod generations;
pub mod gpu;
pub mod http;
pub mod jobs;
pub mod outbound;
pub mod platforms;
pub mod private_files;
pub mod server;
pub mod snapshot;
pub mod socket;
pub mod store;
pub use creo_core::sync;
pub mod telemetry;
pub mod versions;
pub mod webhooks;
pub mod workflow;
