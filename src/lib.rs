//! creo: a real-time collaboration server for AI-assisted content creation. See docs/architecture.md for
//! the map; the path of an edit is `http/ws.rs` → `actors/session.rs` → `actors/document/` →
//! `store/`.

pub mod actors;
pub mod ai;
pub mod app;
pub mod auth;
pub mod billing;
pub use creo_core::{comments, fields, generations, platforms, sync, text, versions, workflow};
pub mod bus;
pub mod config;
pub mod events;
pub mod gpu;
pub mod http;
pub mod jobs;
pub mod outbound;
pub mod private_files;
pub mod queue;
pub mod server;
pub mod snapshot;
pub mod socket;
pub mod store;
pub mod telemetry;
pub mod webhooks;
