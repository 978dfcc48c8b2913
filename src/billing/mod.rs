//! Billing at run time: the per-account request limiter (`limits.rs`) and the payment
//! provider's signed webhooks (`webhook.rs`). The rules themselves (tiers, prices, ledger
//! entries) are transport-free and live in `creo_core::billing`.

pub mod limits;
pub mod webhook;

pub use creo_core::billing::*;
