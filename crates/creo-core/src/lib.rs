//! creo's rules that need no transport, runtime or database, so they are unit-tested (and
//! fuzzed) on their own:
//!
//! - `sync`: the y-protocols messages the official y-websocket provider speaks, decoded with
//!   explicit limits (`sync::update` validates a Yjs update before yrs decodes it) and
//!   encoded once per broadcast; close codes; presence with the authenticated identity
//!   (`sync::awareness`).
//! - `envelope`: what nodes say to each other on the bus, and its wire format.
//! - `role`: who may do what in an account.
//!
//! The server crate (`src/`) runs these inside its actors and handlers; see
//! `docs/architecture.md`.

pub mod envelope;
pub mod fields;
pub mod role;
pub mod sync;
