//! Publishing channels: an account's own destinations for its posts. A `webhook` channel is a
//! signed POST to the team's own service; a platform channel is one of its social accounts,
//! connected through OAuth 2.0 with PKCE (`oauth`), whose tokens are sealed at rest and
//! refreshed before they expire (`tokens`). Each platform's adapter (`adapters`) builds that
//! platform's documented publish request and reads its answer.
//!
//! The data (channels, the state of each target of a post) is `creo_core::channels`; the
//! publish job (`jobs/publish.rs`) drives one post to all its channels.

pub mod adapters;
pub mod apps;
pub mod oauth;
pub mod tokens;

pub use creo_core::channels::*;
