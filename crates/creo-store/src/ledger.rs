//! The credit ledger: balances, postings, reservations and settlements.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;
use creo_core::billing::{Action, EntryKind, Milli};

/// Idempotency keys a client sends live under this prefix, apart from the keys the server makes
/// itself (`capture:<reservation>`, `payment:<event>`, `signup-grant`...), so a client's key
/// can never take the place of one of those.
pub const CLIENT_KEY_PREFIX: &str = "client:";

/// An idempotency key as its sender knows it (without `CLIENT_KEY_PREFIX`).
pub fn shown_key(key: &str) -> &str {
    key.strip_prefix(CLIENT_KEY_PREFIX).unwrap_or(key)
}

fn serialize_key<S: serde::Serializer>(key: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(shown_key(key))
}

#[derive(Debug, Clone, Copy, Default, Serialize, utoipa::ToSchema)]
pub struct Balance {
    pub balance_milli: Milli,
    /// Held by open reservations.
    pub reserved_milli: Milli,
}

impl Balance {
    pub fn available(&self) -> Milli {
        self.balance_milli - self.reserved_milli
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LedgerEntry {
    pub account_id: String,
    /// Position in the account's ledger, from 1.
    pub seq: i64,
    pub kind: EntryKind,
    pub action: Option<Action>,
    pub quantity: i64,
    /// Signed: negative for charges and captures, positive for purchases and grants.
    pub amount_milli: Milli,
    pub balance_after_milli: Milli,
    /// Who caused it; `deleted-user` once that user's personal data was erased.
    pub user_id: String,
    #[serde(serialize_with = "serialize_key")]
    pub idempotency_key: String,
    pub reservation_id: Option<String>,
    pub created_at: i64,
}

/// A ledger movement to make once: a second post with the same idempotency key is answered with
/// the first one's entry and moves nothing.
#[derive(Debug, Clone)]
pub struct Posting {
    pub account_id: String,
    pub idempotency_key: String,
    pub kind: EntryKind,
    pub action: Option<Action>,
    pub quantity: i64,
    pub amount_milli: Milli,
    pub user_id: String,
}

#[derive(Debug, Clone)]
pub enum Posted {
    Applied(LedgerEntry),
    /// The key was used before for this same movement: its entry, nothing charged again.
    Replayed(LedgerEntry),
    /// A debit larger than the available balance (balance minus reservations).
    Insufficient {
        available: Milli,
    },
    /// The key was used before for a different movement.
    KeyConflict,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReservationStatus {
    Held,
    Captured,
    Released,
}

impl ReservationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReservationStatus::Held => "held",
            ReservationStatus::Captured => "captured",
            ReservationStatus::Released => "released",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "held" => ReservationStatus::Held,
            "captured" => ReservationStatus::Captured,
            "released" => ReservationStatus::Released,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Reservation {
    pub reservation_id: String,
    pub account_id: String,
    pub action: Action,
    pub quantity: i64,
    pub amount_milli: Milli,
    pub status: ReservationStatus,
    pub user_id: String,
    #[serde(serialize_with = "serialize_key")]
    pub idempotency_key: String,
    pub created_at: i64,
    /// Released automatically after this (a crashed job never holds credits for ever).
    pub expires_at: i64,
    /// The capture's ledger entry.
    pub entry_seq: Option<i64>,
}

#[derive(Debug, Clone)]
pub enum Reserved {
    Held(Reservation),
    Replayed(Reservation),
    Insufficient { available: Milli },
    KeyConflict,
}

/// How a held reservation ends: captured for `quantity` (at most the reserved quantity, at the
/// price reserved; the rest is released), or released whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    Capture { quantity: i64 },
    Release,
}

impl Reservation {
    /// What capturing `quantity` of it costs: its reserved amount, pro rata.
    pub fn capture_amount(&self, quantity: i64) -> Milli {
        let q = quantity.clamp(0, self.quantity);
        if self.quantity == 0 {
            0
        } else {
            self.amount_milli * q / self.quantity
        }
    }

    /// Whether `how` is the settlement this (settled) reservation already had.
    pub fn settled_as(&self, how: Settlement) -> bool {
        match how {
            Settlement::Release => self.status == ReservationStatus::Released,
            Settlement::Capture { .. } => self.status == ReservationStatus::Captured,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Settled {
    Done(Reservation, Option<LedgerEntry>),
    /// Already settled the same way: the earlier outcome.
    Replayed(Reservation, Option<LedgerEntry>),
    NotFound,
    /// Already settled the other way (captured, then asked to release, or the reverse).
    Conflict(Reservation),
}

#[async_trait]
pub trait LedgerStore: Send + Sync + 'static {
    async fn balance(&self, account_id: &str) -> Result<Balance, StoreError>;
    /// Posts ledger movements in order, each one conditional on its idempotency key being new and
    /// (for debits) on the available balance.
    async fn post(&self, postings: Vec<Posting>) -> Result<Vec<Posted>, StoreError>;
    async fn reserve(&self, reservation: &Reservation) -> Result<Reserved, StoreError>;
    async fn settle(
        &self,
        account_id: &str,
        reservation_id: &str,
        how: Settlement,
        now: i64,
    ) -> Result<Settled, StoreError>;
    async fn reservation(
        &self,
        account_id: &str,
        reservation_id: &str,
    ) -> Result<Option<Reservation>, StoreError>;
    /// Held reservations past their expiry, to release.
    async fn expired_reservations(
        &self,
        account_id: &str,
        now: i64,
    ) -> Result<Vec<Reservation>, StoreError>;
    /// Newest first, entries with `seq < before` (all when `None`), at most `limit`.
    async fn ledger(
        &self,
        account_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Oldest first, every entry created at or after `since_ms`.
    async fn ledger_since(
        &self,
        account_id: &str,
        since_ms: i64,
    ) -> Result<Vec<LedgerEntry>, StoreError>;
    /// Milli-credits one person's debits (charges, captures) took from the account, ever, and
    /// what their held reservations still hold. What the allowance of a person whose email is
    /// unverified is counted against. The default sums `ledger_since` and the held reservations
    /// (every one expires by `i64::MAX`); SQL overrides it.
    async fn spent_by(&self, account_id: &str, user_id: &str) -> Result<Milli, StoreError> {
        let debits: Milli = self
            .ledger_since(account_id, 0)
            .await?
            .iter()
            .filter(|e| e.user_id == user_id && e.amount_milli < 0)
            .map(|e| -e.amount_milli)
            .sum();
        let held: Milli = self
            .expired_reservations(account_id, i64::MAX)
            .await?
            .iter()
            .filter(|r| r.user_id == user_id)
            .map(|r| r.amount_milli)
            .sum();
        Ok(debits + held)
    }
    /// Debits per action since `since_ms`: (how many debits, milli-credits spent), whatever
    /// each debit's quantity (four variations asked for at once are one generation). What
    /// quotas and the month's summary need. The default sums `ledger_since`; a backend that
    /// can aggregate where the data is (SQL) overrides it.

    async fn spent_since(
        &self,
        account_id: &str,
        since_ms: i64,
    ) -> Result<std::collections::BTreeMap<Action, (i64, Milli)>, StoreError> {
        let mut out = std::collections::BTreeMap::new();
        for e in self.ledger_since(account_id, since_ms).await? {
            if let (Some(action), true) = (e.action, e.amount_milli < 0) {
                let row: &mut (i64, Milli) = out.entry(action).or_default();
                row.0 += 1;
                row.1 -= e.amount_milli;
            }
        }
        Ok(out)
    }
}
