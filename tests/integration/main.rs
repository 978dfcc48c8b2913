//! Integration tests: each starts the real `creo` binary on an ephemeral port and talks to it
//! over real sockets.

mod access;
mod account_store_conformance;
mod bad_input;
mod billing;
mod calendar;
mod channels;
mod cluster;
mod collaboration;
mod comments;
mod common;
mod durability;
mod editor_api;
mod email_verification;
mod hostile;
mod identity;
mod imports;
mod in_process;
mod inference;
mod interop;
mod jobs;
mod mfa;
mod notification_store_conformance;
mod notifications;
mod openapi;
mod password_reset;
mod platform;
mod queue;
mod receiver;
mod rest;
mod smtp;
mod store_conformance;
mod store_faults;
mod versions;
mod webhooks;
mod workflow;
