//! The live system: one `DocumentActor` per open document, one `SessionActor` per WebSocket,
//! one `AccountActor` per billing account in use, the registries that find or start them, and
//! the `UpdateDebouncer` that turns settled edits into `document.updated` webhook events.

pub mod account;
pub mod document;
pub mod registry;
pub mod session;
pub mod updates;
