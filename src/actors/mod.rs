//! The live system: one `DocumentActor` per open document, one `SessionActor` per WebSocket,
//! one `AccountActor` per billing account in use, and the registries that find or start them.

pub mod account;
pub mod allowance;
pub mod document;
pub mod keyed;
pub mod registry;
pub mod session;
