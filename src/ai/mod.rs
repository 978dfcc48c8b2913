//! AI features built on the inference pool: semantic search over an account's documents (kept
//! current as they change), hashtag suggestions, similar content, brand-voice scores, and the
//! AI participant that writes suggestions into documents as ordinary CRDT updates.

pub mod collaborator;
pub mod index;
pub mod indexer;
pub mod vocabulary;
