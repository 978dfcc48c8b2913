//! The `AccountStore` trait: identity (users, sessions and their refresh tokens), accounts with
//! members, invitations and API keys, the credit ledger, processed payment events and the audit
//! log. Both backends implement it; money moves only through `post` / `reserve` / `settle`,
//! which are conditional writes (a SQLite transaction, or a ScyllaDB lightweight transaction on
//! the account's ledger partition), so two nodes can never double-spend or double-count.

use async_trait::async_trait;
use serde::Serialize;

use super::StoreError;
use creo_core::billing::{Action, EntryKind, Milli, Tier, TierLimits};
use creo_core::role::Role;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct User {
    pub user_id: String,
    pub email: String,
    pub name: String,
    #[serde(skip)]
    pub password_hash: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    pub account_id: String,
    pub name: String,
    pub tier: Tier,
    /// Set by a failed payment: chargeable actions are refused until a payment succeeds.
    pub payment_failed: bool,
    /// An enterprise account's own limits, replacing its tier's.
    pub custom_limits: Option<TierLimits>,
    pub created_at: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Member {
    pub account_id: String,
    pub user_id: String,
    pub role: Role,
    pub added_at: i64,
}

/// One login: a family of refresh tokens, each used once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuthSession {
    pub session_id: String,
    pub user_id: String,
    pub account_id: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub user_agent: String,
    pub revoked: bool,
}

#[derive(Debug, Clone)]
pub enum Refreshed {
    /// The token was current: it is now spent and `new_hash` is the session's current token.
    Rotated(AuthSession),
    /// The token was already spent: someone replayed it, so the whole session was revoked.
    Reused(AuthSession),
    /// Unknown, expired, or its session is revoked.
    Invalid,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Invitation {
    pub invitation_id: String,
    pub account_id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub accepted_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ApiKey {
    pub key_id: String,
    pub account_id: String,
    pub name: String,
    /// The key's first characters, to recognise it in a list; the secret itself is never stored.
    pub prefix: String,
    #[serde(skip)]
    pub secret_hash: String,
    pub scopes: Vec<String>,
    pub created_by: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEvent {
    pub account_id: String,
    pub event_id: String,
    pub at: i64,
    /// The user (or `apikey:<id>`, or `system`) who acted.
    pub actor: String,
    /// `login`, `login_failed`, `api_key_created`, `role_changed`, ...
    pub action: String,
    pub target: String,
    pub detail: String,
}

/// Accounts, identity and money. Every method is a single conditional write or read.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// Creates the user with a personal account it owns and the account's opening grant.
    /// `false` when the email is taken (nothing written).
    async fn register(
        &self,
        user: &User,
        account: &Account,
        grant: Option<Posting>,
    ) -> Result<bool, StoreError>;
    async fn user(&self, user_id: &str) -> Result<Option<User>, StoreError>;
    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError>;
    /// Erases a user's personal data: profile, email, sessions, memberships; their ledger
    /// entries stay, attributed to `deleted-user`.
    async fn erase_user(&self, user_id: &str) -> Result<bool, StoreError>;

    async fn create_account(&self, account: &Account, owner: &Member) -> Result<(), StoreError>;
    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError>;
    async fn set_tier(&self, account_id: &str, tier: Tier) -> Result<bool, StoreError>;
    async fn set_payment_failed(&self, account_id: &str, failed: bool) -> Result<bool, StoreError>;

    async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError>;
    async fn memberships(&self, user_id: &str) -> Result<Vec<Member>, StoreError>;
    /// Adds or changes a member, unless the account would then exceed `seats` members.
    /// `false` when refused for lack of seats.
    async fn put_member(&self, member: &Member, seats: Option<u32>) -> Result<bool, StoreError>;
    async fn remove_member(&self, account_id: &str, user_id: &str) -> Result<bool, StoreError>;

    async fn create_invitation(&self, inv: &Invitation, token_hash: &str)
        -> Result<(), StoreError>;
    async fn invitations(&self, account_id: &str) -> Result<Vec<Invitation>, StoreError>;
    async fn invitation_by_token(&self, token_hash: &str)
        -> Result<Option<Invitation>, StoreError>;
    /// Marks the invitation accepted by `user_id` (once: `None` if unknown, expired or taken).
    async fn accept_invitation(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<Invitation>, StoreError>;

    async fn create_session(
        &self,
        session: &AuthSession,
        refresh_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError>;
    /// Spends `old_hash` and makes `new_hash` a current token of its session. Spending a token
    /// again more than `grace_ms` after it was first spent revokes its session (refresh-token
    /// reuse detection); within `grace_ms` it is a concurrent refresh of one browser's tabs and
    /// `new_hash` joins the session beside the first successor.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
        grace_ms: i64,
    ) -> Result<Refreshed, StoreError>;
    async fn sessions(&self, user_id: &str) -> Result<Vec<AuthSession>, StoreError>;
    async fn session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<AuthSession>, StoreError>;
    async fn revoke_session(&self, user_id: &str, session_id: &str) -> Result<bool, StoreError>;

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError>;
    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError>;
    async fn api_keys(&self, account_id: &str) -> Result<Vec<ApiKey>, StoreError>;
    async fn revoke_api_key(
        &self,
        account_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError>;

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

    /// Records a payment event as processed; `false` when it already was.
    async fn record_event(&self, event_id: &str, kind: &str, at: i64) -> Result<bool, StoreError>;
    async fn event_processed(&self, event_id: &str) -> Result<bool, StoreError>;

    async fn audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Newest first, events before `before` (ms; all when `None`), at most `limit`.
    async fn audit_events(
        &self,
        account_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    /// Everything recorded about a user's actions, for their data export.
    async fn audit_events_by(&self, user_id: &str) -> Result<Vec<AuditEvent>, StoreError>;
}

/// Ledger entries' user once that user was erased.
pub const DELETED_USER: &str = "deleted-user";
