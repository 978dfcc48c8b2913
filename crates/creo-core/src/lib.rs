//! creo's rules that need no transport, runtime or database, so they are unit-tested (and
//! fuzzed) on their own:
//!
//! - `sync`: the y-protocols messages the official y-websocket provider speaks, decoded with
//!   explicit limits (`sync::update` validates a Yjs update before yrs decodes it) and
//!   encoded once per broadcast; close codes; presence with the authenticated identity
//!   (`sync::awareness`).
//! - `envelope`: what nodes say to each other on the bus, and its wire format.
//! - `role`: who may do what in an account; `access`: revocations.
//! - `live`: `LiveDoc`, one live document's rules (admit, intake, batch, commit outcome,
//!   compaction, resync, presence, access change), which the server's document actor wraps.
//! - `snapshot`, `fields`, `text`: a document's whole state as a `Doc`, its named fields
//!   (formatted text, plain text) and the text the AI features read.
//! - The domain: `workflow` (states, transitions, approvals, the system's `Publish` step),
//!   `versions`, `comments` (anchored with Yjs relative positions), `platforms` (each network's
//!   limits and the post it gets), `generations`, `billing` (tiers, prices, ledger entries),
//!   `webhooks` (events and deliveries as data), `jobs` (work to do later, as data) and
//!   `notifications` (kinds, settings, who hears about a comment, digests).
//!
//! The server crate (`src/`) runs these inside its actors, handlers and jobs, and stores them;
//! see `docs/architecture.md`.

pub mod access;
pub mod analytics;
pub mod billing;
pub mod brand;
pub mod channels;
pub mod comments;
pub mod envelope;
pub mod fields;
pub mod generations;
pub mod jobs;
pub mod live;
pub mod media;
pub mod notifications;
pub mod platforms;
pub mod recurrence;
pub mod role;
pub mod slots;
pub mod snapshot;
pub mod sync;
pub mod text;
pub mod versions;
pub mod webhooks;
pub mod workflow;
