//! Integration tests: each starts the real `creo` binary on an ephemeral port and talks to it
//! over real sockets.

mod access;
mod billing;
mod bad_input;
mod cluster;
mod collaboration;
mod common;
mod durability;
mod interop;
mod rest;
mod store_conformance;
mod store_faults;
