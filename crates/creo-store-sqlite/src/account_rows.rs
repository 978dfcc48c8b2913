//! `AccountStore` on SQLite. Every write is one savepoint in the writer's group commit, and
//! SQLite serialises writers across processes (BEGIN IMMEDIATE), so a balance read and the debit
//! that depends on it can never interleave with another node's: the conditional-write guarantee
//! the ScyllaDB backend gets from lightweight transactions.

use rusqlite::{params, Connection, OptionalExtension, Row};

use creo_core::billing::{Action, EntryKind, Tier};
use creo_core::role::Role;
use creo_store::{
    accounts::*, api_keys::*, audit::*, invitations::*, ledger::*, login_sessions::*, members::*,
    users::*,
};
use creo_store::{unavailable, StoreError};

pub(super) fn sql(e: rusqlite::Error) -> StoreError {
    unavailable(e)
}

pub(super) fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown {what} {value:?}").into(),
    )
}

pub(super) fn role(s: String) -> rusqlite::Result<Role> {
    Role::parse(&s).ok_or_else(|| corrupt("role", &s))
}

pub(super) const USER_COLS: &str =
    "user_id, email, name, password_hash, created_at, email_verified_at";
pub(super) fn user_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        user_id: r.get(0)?,
        email: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        name: r.get(2)?,
        password_hash: r.get(3)?,
        created_at: r.get(4)?,
        email_verified_at: r.get(5)?,
    })
}

pub(super) const ACCOUNT_COLS: &str =
    "account_id, name, tier, payment_failed, custom_limits, created_at, require_mfa";
pub(super) fn account_row(r: &Row) -> rusqlite::Result<Account> {
    let tier: String = r.get(2)?;
    let limits: Option<String> = r.get(4)?;
    Ok(Account {
        account_id: r.get(0)?,
        name: r.get(1)?,
        tier: Tier::parse(&tier).ok_or_else(|| corrupt("tier", &tier))?,
        payment_failed: r.get(3)?,
        custom_limits: limits.and_then(|l| serde_json::from_str(&l).ok()),
        created_at: r.get(5)?,
        require_mfa: r.get(6)?,
    })
}

pub(super) const MEMBER_COLS: &str = "account_id, user_id, role, added_at";
pub(super) fn member_row(r: &Row) -> rusqlite::Result<Member> {
    Ok(Member {
        account_id: r.get(0)?,
        user_id: r.get(1)?,
        role: role(r.get(2)?)?,
        added_at: r.get(3)?,
    })
}

pub(super) const INVITATION_COLS: &str =
    "invitation_id, account_id, email, role, invited_by, created_at, expires_at, accepted_by";
pub(super) fn invitation_row(r: &Row) -> rusqlite::Result<Invitation> {
    Ok(Invitation {
        invitation_id: r.get(0)?,
        account_id: r.get(1)?,
        email: r.get(2)?,
        role: role(r.get(3)?)?,
        invited_by: r.get(4)?,
        created_at: r.get(5)?,
        expires_at: r.get(6)?,
        accepted_by: r.get(7)?,
    })
}

pub(super) const SESSION_COLS: &str =
    "session_id, user_id, account_id, created_at, last_used_at, user_agent, revoked";
pub(super) fn session_row(r: &Row) -> rusqlite::Result<AuthSession> {
    Ok(AuthSession {
        session_id: r.get(0)?,
        user_id: r.get(1)?,
        account_id: r.get(2)?,
        created_at: r.get(3)?,
        last_used_at: r.get(4)?,
        user_agent: r.get(5)?,
        revoked: r.get(6)?,
    })
}

pub(super) const KEY_COLS: &str =
    "key_id, account_id, name, prefix, secret_hash, scopes, created_by, created_at, revoked_at";
pub(super) fn key_row(r: &Row) -> rusqlite::Result<ApiKey> {
    let scopes: String = r.get(5)?;
    Ok(ApiKey {
        key_id: r.get(0)?,
        account_id: r.get(1)?,
        name: r.get(2)?,
        prefix: r.get(3)?,
        secret_hash: r.get(4)?,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        created_by: r.get(6)?,
        created_at: r.get(7)?,
        revoked_at: r.get(8)?,
    })
}

pub(super) const ENTRY_COLS: &str =
    "account_id, seq, kind, action, quantity, amount, balance_after, user_id, \
                          idempotency_key, reservation_id, created_at";
pub(super) fn entry_row(r: &Row) -> rusqlite::Result<LedgerEntry> {
    let kind: String = r.get(2)?;
    let action: Option<String> = r.get(3)?;
    Ok(LedgerEntry {
        account_id: r.get(0)?,
        seq: r.get(1)?,
        kind: EntryKind::parse(&kind).ok_or_else(|| corrupt("entry kind", &kind))?,
        action: match action {
            Some(a) => Some(Action::parse(&a).ok_or_else(|| corrupt("action", &a))?),
            None => None,
        },
        quantity: r.get(4)?,
        amount_milli: r.get(5)?,
        balance_after_milli: r.get(6)?,
        user_id: r.get(7)?,
        idempotency_key: r.get(8)?,
        reservation_id: r.get(9)?,
        created_at: r.get(10)?,
    })
}

pub(super) const RESERVATION_COLS: &str =
    "account_id, reservation_id, action, quantity, amount, status, \
                                user_id, idempotency_key, created_at, expires_at, entry_seq";
pub(super) fn reservation_row(r: &Row) -> rusqlite::Result<Reservation> {
    let action: String = r.get(2)?;
    let status: String = r.get(5)?;
    Ok(Reservation {
        account_id: r.get(0)?,
        reservation_id: r.get(1)?,
        action: Action::parse(&action).ok_or_else(|| corrupt("action", &action))?,
        quantity: r.get(3)?,
        amount_milli: r.get(4)?,
        status: ReservationStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        user_id: r.get(6)?,
        idempotency_key: r.get(7)?,
        created_at: r.get(8)?,
        expires_at: r.get(9)?,
        entry_seq: r.get(10)?,
    })
}

pub(super) const AUDIT_COLS: &str = "account_id, event_id, at, actor, action, target, detail";
pub(super) fn audit_row(r: &Row) -> rusqlite::Result<AuditEvent> {
    Ok(AuditEvent {
        account_id: r.get(0)?,
        event_id: r.get(1)?,
        at: r.get(2)?,
        actor: r.get(3)?,
        action: r.get(4)?,
        target: r.get(5)?,
        detail: r.get(6)?,
    })
}

pub(super) fn one<T>(
    conn: &Connection,
    query: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&Row) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    conn.prepare_cached(query)
        .and_then(|mut s| s.query_row(params, f).optional())
        .map_err(sql)
}

pub(super) fn all<T>(
    conn: &Connection,
    query: &str,
    params: impl rusqlite::Params,
    f: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(query).map_err(sql)?;
    let rows = stmt.query_map(params, f).map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

pub(super) fn exec(
    conn: &Connection,
    query: &str,
    params: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    conn.prepare_cached(query)
        .and_then(|mut s| s.execute(params))
        .map_err(sql)
}

pub(super) fn insert_account(conn: &Connection, a: &Account) -> Result<(), StoreError> {
    let limits = a
        .custom_limits
        .as_ref()
        .map(|l| serde_json::to_string(l).expect("limits serialise"));
    exec(
        conn,
        &format!("INSERT INTO accounts ({ACCOUNT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
        params![
            a.account_id,
            a.name,
            a.tier.as_str(),
            a.payment_failed,
            limits,
            a.created_at,
            a.require_mfa
        ],
    )
    .map(|_| ())
}

pub(super) fn insert_member(conn: &Connection, m: &Member) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO account_members (account_id, user_id, role, added_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account_id, user_id) DO UPDATE SET role = ?3",
        params![m.account_id, m.user_id, m.role.as_str(), m.added_at],
    )
    .map(|_| ())
}
