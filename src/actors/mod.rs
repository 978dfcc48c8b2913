//! The live system: one `DocumentActor` per open document, one `SessionActor` per WebSocket,
//! and the registry that finds or starts document actors.

pub mod document;
pub mod registry;
pub mod session;
