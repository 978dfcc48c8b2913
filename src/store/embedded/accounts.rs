//! `AccountStore` on SQLite. Every write is one savepoint in the writer's group commit, and
//! SQLite serialises writers across processes (BEGIN IMMEDIATE), so a balance read and the debit
//! that depends on it can never interleave with another node's: the conditional-write guarantee
//! the ScyllaDB backend gets from lightweight transactions.

use async_trait::async_trait;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::EmbeddedStore;
use crate::store::accounts::*;
use crate::store::{unavailable, StoreError};
use creo_core::billing::{Action, EntryKind, Milli, Tier};
use creo_core::role::Role;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    user_id        TEXT PRIMARY KEY,
    email          TEXT UNIQUE,
    name           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    account_id      TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    tier            TEXT NOT NULL,
    payment_failed  INTEGER NOT NULL DEFAULT 0,
    custom_limits   TEXT,
    created_at      INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS account_members (
    account_id  TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    role        TEXT NOT NULL,
    added_at    INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS account_members_by_user ON account_members (user_id);
CREATE TABLE IF NOT EXISTS invitations (
    invitation_id  TEXT PRIMARY KEY,
    token_hash     TEXT NOT NULL UNIQUE,
    account_id     TEXT NOT NULL,
    email          TEXT NOT NULL,
    role           TEXT NOT NULL,
    invited_by     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    accepted_by    TEXT
);
CREATE INDEX IF NOT EXISTS invitations_by_account ON invitations (account_id);
CREATE TABLE IF NOT EXISTS auth_sessions (
    session_id    TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER NOT NULL,
    user_agent    TEXT NOT NULL,
    revoked       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS auth_sessions_by_user ON auth_sessions (user_id);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_hash  TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL,
    spent       INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS refresh_tokens_by_session ON refresh_tokens (session_id);
CREATE TABLE IF NOT EXISTS api_keys (
    key_id       TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX IF NOT EXISTS api_keys_by_account ON api_keys (account_id);
CREATE TABLE IF NOT EXISTS credit_balances (
    account_id  TEXT PRIMARY KEY,
    balance     INTEGER NOT NULL,
    reserved    INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS credit_ledger (
    account_id       TEXT NOT NULL,
    seq              INTEGER NOT NULL,
    kind             TEXT NOT NULL,
    action           TEXT,
    quantity         INTEGER NOT NULL,
    amount           INTEGER NOT NULL,
    balance_after    INTEGER NOT NULL,
    user_id          TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    reservation_id   TEXT,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (account_id, seq),
    UNIQUE (account_id, idempotency_key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS credit_ledger_by_time ON credit_ledger (account_id, created_at);
CREATE INDEX IF NOT EXISTS credit_ledger_by_user ON credit_ledger (user_id);
CREATE TABLE IF NOT EXISTS credit_reservations (
    account_id       TEXT NOT NULL,
    reservation_id   TEXT NOT NULL,
    action           TEXT NOT NULL,
    quantity         INTEGER NOT NULL,
    amount           INTEGER NOT NULL,
    status           TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    idempotency_key  TEXT NOT NULL,
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    entry_seq        INTEGER,
    PRIMARY KEY (account_id, reservation_id),
    UNIQUE (account_id, idempotency_key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS payment_events (
    event_id      TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    processed_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_events (
    account_id  TEXT NOT NULL,
    at          INTEGER NOT NULL,
    event_id    TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    detail      TEXT NOT NULL,
    PRIMARY KEY (account_id, at, event_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_events_by_actor ON audit_events (actor);
";

fn sql(e: rusqlite::Error) -> StoreError {
    unavailable(e)
}

fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown {what} {value:?}").into(),
    )
}

fn role(s: String) -> rusqlite::Result<Role> {
    Role::parse(&s).ok_or_else(|| corrupt("role", &s))
}

const USER_COLS: &str = "user_id, email, name, password_hash, created_at";
fn user_row(r: &Row) -> rusqlite::Result<User> {
    Ok(User {
        user_id: r.get(0)?,
        email: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
        name: r.get(2)?,
        password_hash: r.get(3)?,
        created_at: r.get(4)?,
    })
}

const ACCOUNT_COLS: &str = "account_id, name, tier, payment_failed, custom_limits, created_at";
fn account_row(r: &Row) -> rusqlite::Result<Account> {
    let tier: String = r.get(2)?;
    let limits: Option<String> = r.get(4)?;
    Ok(Account {
        account_id: r.get(0)?,
        name: r.get(1)?,
        tier: Tier::parse(&tier).ok_or_else(|| corrupt("tier", &tier))?,
        payment_failed: r.get(3)?,
        custom_limits: limits.and_then(|l| serde_json::from_str(&l).ok()),
        created_at: r.get(5)?,
    })
}

const MEMBER_COLS: &str = "account_id, user_id, role, added_at";
fn member_row(r: &Row) -> rusqlite::Result<Member> {
    Ok(Member {
        account_id: r.get(0)?,
        user_id: r.get(1)?,
        role: role(r.get(2)?)?,
        added_at: r.get(3)?,
    })
}

const INVITATION_COLS: &str =
    "invitation_id, account_id, email, role, invited_by, created_at, expires_at, accepted_by";
fn invitation_row(r: &Row) -> rusqlite::Result<Invitation> {
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

const SESSION_COLS: &str =
    "session_id, user_id, account_id, created_at, last_used_at, user_agent, revoked";
fn session_row(r: &Row) -> rusqlite::Result<AuthSession> {
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

const KEY_COLS: &str =
    "key_id, account_id, name, prefix, secret_hash, scopes, created_by, created_at, revoked_at";
fn key_row(r: &Row) -> rusqlite::Result<ApiKey> {
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

const ENTRY_COLS: &str =
    "account_id, seq, kind, action, quantity, amount, balance_after, user_id, \
                          idempotency_key, reservation_id, created_at";
fn entry_row(r: &Row) -> rusqlite::Result<LedgerEntry> {
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

const RESERVATION_COLS: &str = "account_id, reservation_id, action, quantity, amount, status, \
                                user_id, idempotency_key, created_at, expires_at, entry_seq";
fn reservation_row(r: &Row) -> rusqlite::Result<Reservation> {
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

const AUDIT_COLS: &str = "account_id, event_id, at, actor, action, target, detail";
fn audit_row(r: &Row) -> rusqlite::Result<AuditEvent> {
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

fn one<T>(
    conn: &Connection,
    query: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&Row) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    conn.prepare_cached(query)
        .and_then(|mut s| s.query_row(params, f).optional())
        .map_err(sql)
}

fn all<T>(
    conn: &Connection,
    query: &str,
    params: impl rusqlite::Params,
    f: impl FnMut(&Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(query).map_err(sql)?;
    let rows = stmt.query_map(params, f).map_err(sql)?;
    rows.collect::<Result<_, _>>().map_err(sql)
}

fn exec(
    conn: &Connection,
    query: &str,
    params: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    conn.prepare_cached(query)
        .and_then(|mut s| s.execute(params))
        .map_err(sql)
}

/// The account's balance row: (balance, reserved, last ledger seq).
fn balance_row(conn: &Connection, account_id: &str) -> Result<(i64, i64, i64), StoreError> {
    Ok(one(
        conn,
        "SELECT balance, reserved, last_seq FROM credit_balances WHERE account_id = ?1",
        params![account_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?
    .unwrap_or((0, 0, 0)))
}

fn put_balance(conn: &Connection, account_id: &str, b: (i64, i64, i64)) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO credit_balances (account_id, balance, reserved, last_seq) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account_id) DO UPDATE SET balance = ?2, reserved = ?3, last_seq = ?4",
        params![account_id, b.0, b.1, b.2],
    )
    .map(|_| ())
}

fn entry_by_key(
    conn: &Connection,
    account_id: &str,
    key: &str,
) -> Result<Option<LedgerEntry>, StoreError> {
    one(
        conn,
        &format!(
            "SELECT {ENTRY_COLS} FROM credit_ledger WHERE account_id = ?1 AND idempotency_key = ?2"
        ),
        params![account_id, key],
        entry_row,
    )
}

fn entry_by_seq(
    conn: &Connection,
    account_id: &str,
    seq: i64,
) -> Result<Option<LedgerEntry>, StoreError> {
    one(
        conn,
        &format!("SELECT {ENTRY_COLS} FROM credit_ledger WHERE account_id = ?1 AND seq = ?2"),
        params![account_id, seq],
        entry_row,
    )
}

/// Appends one entry and moves the balance (and the reserved amount by `unreserve`).
fn append_entry(
    conn: &Connection,
    p: &Posting,
    reservation_id: Option<&str>,
    unreserve: i64,
) -> Result<LedgerEntry, StoreError> {
    let (balance, reserved, last_seq) = balance_row(conn, &p.account_id)?;
    let entry = LedgerEntry {
        account_id: p.account_id.clone(),
        seq: last_seq + 1,
        kind: p.kind,
        action: p.action,
        quantity: p.quantity,
        amount_milli: p.amount_milli,
        balance_after_milli: balance + p.amount_milli,
        user_id: p.user_id.clone(),
        idempotency_key: p.idempotency_key.clone(),
        reservation_id: reservation_id.map(str::to_string),
        created_at: crate::store::now_ms(),
    };
    exec(
        conn,
        &format!("INSERT INTO credit_ledger ({ENTRY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
        params![
            entry.account_id,
            entry.seq,
            entry.kind.as_str(),
            entry.action.map(Action::as_str),
            entry.quantity,
            entry.amount_milli,
            entry.balance_after_milli,
            entry.user_id,
            entry.idempotency_key,
            entry.reservation_id,
            entry.created_at
        ],
    )?;
    put_balance(
        conn,
        &p.account_id,
        (entry.balance_after_milli, reserved - unreserve, entry.seq),
    )?;
    Ok(entry)
}

fn post_one(conn: &Connection, p: &Posting) -> Result<Posted, StoreError> {
    if let Some(e) = entry_by_key(conn, &p.account_id, &p.idempotency_key)? {
        let same = e.kind == p.kind && e.action == p.action && e.amount_milli == p.amount_milli;
        return Ok(if same {
            Posted::Replayed(e)
        } else {
            Posted::KeyConflict
        });
    }
    let (balance, reserved, _) = balance_row(conn, &p.account_id)?;
    if p.amount_milli < 0 && balance - reserved + p.amount_milli < 0 {
        return Ok(Posted::Insufficient {
            available: balance - reserved,
        });
    }
    append_entry(conn, p, None, 0).map(Posted::Applied)
}

fn reservation_by(
    conn: &Connection,
    account_id: &str,
    column: &str,
    value: &str,
) -> Result<Option<Reservation>, StoreError> {
    one(
        conn,
        &format!("SELECT {RESERVATION_COLS} FROM credit_reservations WHERE account_id = ?1 AND {column} = ?2"),
        params![account_id, value],
        reservation_row,
    )
}

fn set_status(conn: &Connection, r: &Reservation) -> Result<(), StoreError> {
    exec(
        conn,
        "UPDATE credit_reservations SET status = ?3, entry_seq = ?4
         WHERE account_id = ?1 AND reservation_id = ?2",
        params![
            r.account_id,
            r.reservation_id,
            r.status.as_str(),
            r.entry_seq
        ],
    )
    .map(|_| ())
}

fn settle_one(
    conn: &Connection,
    account_id: &str,
    reservation_id: &str,
    how: Settlement,
) -> Result<Settled, StoreError> {
    let Some(mut r) = reservation_by(conn, account_id, "reservation_id", reservation_id)? else {
        return Ok(Settled::NotFound);
    };
    if r.status != ReservationStatus::Held {
        let entry = match r.entry_seq {
            Some(seq) => entry_by_seq(conn, account_id, seq)?,
            None => None,
        };
        return Ok(if r.settled_as(how) {
            Settled::Replayed(r, entry)
        } else {
            Settled::Conflict(r)
        });
    }
    let capture = match how {
        Settlement::Capture { quantity } if quantity > 0 => Some(quantity.min(r.quantity)),
        _ => None,
    };
    let entry = match capture {
        Some(quantity) => {
            let posting = Posting {
                account_id: account_id.to_string(),
                idempotency_key: format!("capture:{reservation_id}"),
                kind: EntryKind::Capture,
                action: Some(r.action),
                quantity,
                amount_milli: -r.capture_amount(quantity),
                user_id: r.user_id.clone(),
            };
            let e = append_entry(conn, &posting, Some(reservation_id), r.amount_milli)?;
            r.status = ReservationStatus::Captured;
            r.entry_seq = Some(e.seq);
            Some(e)
        }
        None => {
            let (balance, reserved, last_seq) = balance_row(conn, account_id)?;
            put_balance(
                conn,
                account_id,
                (balance, reserved - r.amount_milli, last_seq),
            )?;
            r.status = ReservationStatus::Released;
            None
        }
    };
    set_status(conn, &r)?;
    Ok(Settled::Done(r, entry))
}

#[async_trait]
impl AccountStore for EmbeddedStore {
    async fn register(
        &self,
        user: &User,
        account: &Account,
        grant: Option<Posting>,
    ) -> Result<bool, StoreError> {
        let (user, account) = (user.clone(), account.clone());
        self.transaction(move |conn| {
            let taken = one(
                conn,
                "SELECT 1 FROM users WHERE email = ?1",
                params![user.email],
                |_| Ok(()),
            )?
            .is_some();
            if taken {
                return Ok(false);
            }
            exec(
                conn,
                &format!("INSERT INTO users ({USER_COLS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![
                    user.user_id,
                    user.email,
                    user.name,
                    user.password_hash,
                    user.created_at
                ],
            )?;
            insert_account(conn, &account)?;
            insert_member(
                conn,
                &Member {
                    account_id: account.account_id.clone(),
                    user_id: user.user_id.clone(),
                    role: Role::Owner,
                    added_at: user.created_at,
                },
            )?;
            if let Some(grant) = grant {
                post_one(conn, &grant)?;
            }
            Ok(true)
        })
        .await
    }

    async fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {USER_COLS} FROM users WHERE user_id = ?1 AND email IS NOT NULL"),
                params![id],
                user_row,
            )
        })
        .await
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let email = email.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {USER_COLS} FROM users WHERE email = ?1"),
                params![email],
                user_row,
            )
        })
        .await
    }

    async fn erase_user(&self, user_id: &str) -> Result<bool, StoreError> {
        let id = user_id.to_string();
        self.transaction(move |c| {
            let n = exec(
                c,
                "UPDATE users SET email = NULL, name = '', password_hash = '' WHERE user_id = ?1 AND email IS NOT NULL",
                params![id],
            )?;
            exec(
                c,
                "DELETE FROM refresh_tokens WHERE session_id IN (SELECT session_id FROM auth_sessions WHERE user_id = ?1)",
                params![id],
            )?;
            exec(c, "DELETE FROM auth_sessions WHERE user_id = ?1", params![id])?;
            exec(c, "DELETE FROM account_members WHERE user_id = ?1", params![id])?;
            exec(
                c,
                "UPDATE credit_ledger SET user_id = ?2 WHERE user_id = ?1",
                params![id, DELETED_USER],
            )?;
            exec(
                c,
                "UPDATE credit_reservations SET user_id = ?2 WHERE user_id = ?1",
                params![id, DELETED_USER],
            )?;
            exec(
                c,
                "UPDATE audit_events SET actor = ?2 WHERE actor = ?1",
                params![id, DELETED_USER],
            )?;
            exec(
                c,
                "UPDATE audit_events SET target = ?2 WHERE target = ?1",
                params![id, DELETED_USER],
            )?;
            Ok(n > 0)
        })
        .await
    }

    async fn create_account(&self, account: &Account, owner: &Member) -> Result<(), StoreError> {
        let (account, owner) = (account.clone(), owner.clone());
        self.transaction(move |c| {
            insert_account(c, &account)?;
            insert_member(c, &owner)
        })
        .await
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE account_id = ?1"),
                params![id],
                account_row,
            )
        })
        .await
    }

    async fn set_tier(&self, account_id: &str, tier: Tier) -> Result<bool, StoreError> {
        let id = account_id.to_string();
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE accounts SET tier = ?2 WHERE account_id = ?1",
                params![id, tier.as_str()],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn set_payment_failed(&self, account_id: &str, failed: bool) -> Result<bool, StoreError> {
        let id = account_id.to_string();
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE accounts SET payment_failed = ?2 WHERE account_id = ?1",
                params![id, failed],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {MEMBER_COLS} FROM account_members WHERE account_id = ?1 ORDER BY added_at, user_id"),
                params![id],
                member_row,
            )
        })
        .await
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Member>, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {MEMBER_COLS} FROM account_members WHERE user_id = ?1 ORDER BY added_at, account_id"),
                params![id],
                member_row,
            )
        })
        .await
    }

    async fn put_member(&self, member: &Member, seats: Option<u32>) -> Result<bool, StoreError> {
        let m = member.clone();
        self.transaction(move |c| {
            let existing = one(
                c,
                "SELECT 1 FROM account_members WHERE account_id = ?1 AND user_id = ?2",
                params![m.account_id, m.user_id],
                |_| Ok(()),
            )?;
            if existing.is_none() {
                if let Some(seats) = seats {
                    let count: i64 = one(
                        c,
                        "SELECT COUNT(*) FROM account_members WHERE account_id = ?1",
                        params![m.account_id],
                        |r| r.get(0),
                    )?
                    .unwrap_or(0);
                    if count >= i64::from(seats) {
                        return Ok(false);
                    }
                }
            }
            insert_member(c, &m)?;
            Ok(true)
        })
        .await
    }

    async fn remove_member(&self, account_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let (a, u) = (account_id.to_string(), user_id.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "DELETE FROM account_members WHERE account_id = ?1 AND user_id = ?2",
                params![a, u],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn create_invitation(
        &self,
        inv: &Invitation,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        let (i, h) = (inv.clone(), token_hash.to_string());
        self.transaction(move |c| {
            exec(
                c,
                &format!("INSERT INTO invitations ({INVITATION_COLS}, token_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    i.invitation_id,
                    i.account_id,
                    i.email,
                    i.role.as_str(),
                    i.invited_by,
                    i.created_at,
                    i.expires_at,
                    i.accepted_by,
                    h
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn invitations(&self, account_id: &str) -> Result<Vec<Invitation>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {INVITATION_COLS} FROM invitations WHERE account_id = ?1 ORDER BY created_at"),
                params![id],
                invitation_row,
            )
        })
        .await
    }

    async fn invitation_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Invitation>, StoreError> {
        let h = token_hash.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {INVITATION_COLS} FROM invitations WHERE token_hash = ?1"),
                params![h],
                invitation_row,
            )
        })
        .await
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<Invitation>, StoreError> {
        let (h, u) = (token_hash.to_string(), user_id.to_string());
        self.transaction(move |c| {
            let n = exec(
                c,
                "UPDATE invitations SET accepted_by = ?2
                 WHERE token_hash = ?1 AND accepted_by IS NULL AND expires_at > ?3",
                params![h, u, now],
            )?;
            if n == 0 {
                return Ok(None);
            }
            one(
                c,
                &format!("SELECT {INVITATION_COLS} FROM invitations WHERE token_hash = ?1"),
                params![h],
                invitation_row,
            )
        })
        .await
    }

    async fn create_session(
        &self,
        session: &AuthSession,
        refresh_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let (s, h) = (session.clone(), refresh_hash.to_string());
        self.transaction(move |c| {
            exec(
                c,
                &format!("INSERT INTO auth_sessions ({SESSION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
                params![
                    s.session_id,
                    s.user_id,
                    s.account_id,
                    s.created_at,
                    s.last_used_at,
                    s.user_agent,
                    s.revoked
                ],
            )?;
            exec(
                c,
                "INSERT INTO refresh_tokens (token_hash, session_id, spent, expires_at) VALUES (?1, ?2, 0, ?3)",
                params![h, s.session_id, expires_at],
            )
            .map(|_| ())
        })
        .await
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        new_hash: &str,
        now: i64,
        expires_at: i64,
        grace_ms: i64,
    ) -> Result<Refreshed, StoreError> {
        let (old, new) = (old_hash.to_string(), new_hash.to_string());
        self.transaction(move |c| {
            // `spent` is 0 for a current token, else when it was spent (ms; rows written before
            // the grace window hold 1, long past it).
            let Some((session_id, spent_at, token_expiry)) = one(
                c,
                "SELECT session_id, spent, expires_at FROM refresh_tokens WHERE token_hash = ?1",
                params![old],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)),
            )?
            else {
                return Ok(Refreshed::Invalid);
            };
            let Some(mut session) = one(
                c,
                &format!("SELECT {SESSION_COLS} FROM auth_sessions WHERE session_id = ?1"),
                params![session_id],
                session_row,
            )?
            else {
                return Ok(Refreshed::Invalid);
            };
            let spent = spent_at != 0;
            if spent && now - spent_at > grace_ms {
                exec(
                    c,
                    "UPDATE auth_sessions SET revoked = 1 WHERE session_id = ?1",
                    params![session_id],
                )?;
                session.revoked = true;
                return Ok(Refreshed::Reused(session));
            }
            if session.revoked || token_expiry <= now {
                return Ok(Refreshed::Invalid);
            }
            if !spent {
                exec(
                    c,
                    "UPDATE refresh_tokens SET spent = ?2 WHERE token_hash = ?1",
                    params![old, now.max(2)],
                )?;
            }
            exec(
                c,
                "INSERT INTO refresh_tokens (token_hash, session_id, spent, expires_at) VALUES (?1, ?2, 0, ?3)",
                params![new, session_id, expires_at],
            )?;
            exec(
                c,
                "UPDATE auth_sessions SET last_used_at = ?2 WHERE session_id = ?1",
                params![session_id, now],
            )?;
            session.last_used_at = now;
            Ok(Refreshed::Rotated(session))
        })
        .await
    }

    async fn sessions(&self, user_id: &str) -> Result<Vec<AuthSession>, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {SESSION_COLS} FROM auth_sessions WHERE user_id = ?1 ORDER BY created_at"),
                params![id],
                session_row,
            )
        })
        .await
    }

    async fn session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<AuthSession>, StoreError> {
        let (u, s) = (user_id.to_string(), session_id.to_string());
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {SESSION_COLS} FROM auth_sessions WHERE session_id = ?1 AND user_id = ?2"),
                params![s, u],
                session_row,
            )
        })
        .await
    }

    async fn revoke_session(&self, user_id: &str, session_id: &str) -> Result<bool, StoreError> {
        let (u, s) = (user_id.to_string(), session_id.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE auth_sessions SET revoked = 1 WHERE user_id = ?1 AND session_id = ?2 AND revoked = 0",
                params![u, s],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn create_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let k = key.clone();
        self.transaction(move |c| {
            exec(
                c,
                &format!(
                    "INSERT INTO api_keys ({KEY_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    k.key_id,
                    k.account_id,
                    k.name,
                    k.prefix,
                    k.secret_hash,
                    k.scopes.join(" "),
                    k.created_by,
                    k.created_at,
                    k.revoked_at
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        let id = key_id.to_string();
        self.read(move |c| {
            one(
                c,
                &format!("SELECT {KEY_COLS} FROM api_keys WHERE key_id = ?1"),
                params![id],
                key_row,
            )
        })
        .await
    }

    async fn api_keys(&self, account_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!(
                    "SELECT {KEY_COLS} FROM api_keys WHERE account_id = ?1 ORDER BY created_at"
                ),
                params![id],
                key_row,
            )
        })
        .await
    }

    async fn revoke_api_key(
        &self,
        account_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (a, k) = (account_id.to_string(), key_id.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE api_keys SET revoked_at = ?3 WHERE account_id = ?1 AND key_id = ?2 AND revoked_at IS NULL",
                params![a, k, now],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn balance(&self, account_id: &str) -> Result<Balance, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            let (balance_milli, reserved_milli, _) = balance_row(c, &id)?;
            Ok(Balance {
                balance_milli,
                reserved_milli,
            })
        })
        .await
    }

    async fn post(&self, postings: Vec<Posting>) -> Result<Vec<Posted>, StoreError> {
        self.transaction(move |c| postings.iter().map(|p| post_one(c, p)).collect())
            .await
    }

    async fn reserve(&self, reservation: &Reservation) -> Result<Reserved, StoreError> {
        let r = reservation.clone();
        self.transaction(move |c| {
            if let Some(existing) = reservation_by(c, &r.account_id, "idempotency_key", &r.idempotency_key)? {
                let same = existing.action == r.action && existing.quantity == r.quantity;
                return Ok(if same { Reserved::Replayed(existing) } else { Reserved::KeyConflict });
            }
            let (balance, reserved, last_seq) = balance_row(c, &r.account_id)?;
            if balance - reserved < r.amount_milli {
                return Ok(Reserved::Insufficient {
                    available: balance - reserved,
                });
            }
            exec(
                c,
                &format!("INSERT INTO credit_reservations ({RESERVATION_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
                params![
                    r.account_id,
                    r.reservation_id,
                    r.action.as_str(),
                    r.quantity,
                    r.amount_milli,
                    r.status.as_str(),
                    r.user_id,
                    r.idempotency_key,
                    r.created_at,
                    r.expires_at,
                    r.entry_seq
                ],
            )?;
            put_balance(c, &r.account_id, (balance, reserved + r.amount_milli, last_seq))?;
            Ok(Reserved::Held(r))
        })
        .await
    }

    async fn settle(
        &self,
        account_id: &str,
        reservation_id: &str,
        how: Settlement,
        _now: i64,
    ) -> Result<Settled, StoreError> {
        let (a, r) = (account_id.to_string(), reservation_id.to_string());
        self.transaction(move |c| settle_one(c, &a, &r, how)).await
    }

    async fn reservation(
        &self,
        account_id: &str,
        reservation_id: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        let (a, r) = (account_id.to_string(), reservation_id.to_string());
        self.read(move |c| reservation_by(c, &a, "reservation_id", &r))
            .await
    }

    async fn expired_reservations(
        &self,
        account_id: &str,
        now: i64,
    ) -> Result<Vec<Reservation>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {RESERVATION_COLS} FROM credit_reservations WHERE account_id = ?1 AND status = 'held' AND expires_at <= ?2"),
                params![id, now],
                reservation_row,
            )
        })
        .await
    }

    async fn ledger(
        &self,
        account_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {ENTRY_COLS} FROM credit_ledger WHERE account_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3"),
                params![id, before.unwrap_or(i64::MAX), limit as i64],
                entry_row,
            )
        })
        .await
    }

    async fn ledger_since(
        &self,
        account_id: &str,
        since_ms: i64,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {ENTRY_COLS} FROM credit_ledger WHERE account_id = ?1 AND created_at >= ?2 ORDER BY seq"),
                params![id, since_ms],
                entry_row,
            )
        })
        .await
    }

    async fn spent_since(
        &self,
        account_id: &str,
        since_ms: i64,
    ) -> Result<std::collections::BTreeMap<Action, (i64, Milli)>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            let rows = all(
                c,
                "SELECT action, COUNT(*), -SUM(amount) FROM credit_ledger
                 WHERE account_id = ?1 AND created_at >= ?2 AND action IS NOT NULL AND amount < 0
                 GROUP BY action",
                params![id, since_ms],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )?;
            rows.into_iter()
                .map(|(a, n, spent)| {
                    let action = Action::parse(&a)
                        .ok_or_else(|| StoreError::Corrupt(format!("action {a}")))?;
                    Ok((action, (n, spent)))
                })
                .collect()
        })
        .await
    }

    async fn record_event(&self, event_id: &str, kind: &str, at: i64) -> Result<bool, StoreError> {
        let (e, k) = (event_id.to_string(), kind.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "INSERT OR IGNORE INTO payment_events (event_id, kind, processed_at) VALUES (?1, ?2, ?3)",
                params![e, k, at],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn event_processed(&self, event_id: &str) -> Result<bool, StoreError> {
        let e = event_id.to_string();
        self.read(move |c| {
            Ok(one(
                c,
                "SELECT 1 FROM payment_events WHERE event_id = ?1",
                params![e],
                |_| Ok(()),
            )?
            .is_some())
        })
        .await
    }

    async fn audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let e = event.clone();
        self.transaction(move |c| {
            exec(
                c,
                &format!(
                    "INSERT INTO audit_events ({AUDIT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    e.account_id,
                    e.event_id,
                    e.at,
                    e.actor,
                    e.action,
                    e.target,
                    e.detail
                ],
            )
            .map(|_| ())
        })
        .await
    }

    async fn audit_events(
        &self,
        account_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let id = account_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {AUDIT_COLS} FROM audit_events WHERE account_id = ?1 AND at < ?2 ORDER BY at DESC, event_id DESC LIMIT ?3"),
                params![id, before.unwrap_or(i64::MAX), limit as i64],
                audit_row,
            )
        })
        .await
    }

    async fn audit_events_by(&self, user_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            all(
                c,
                &format!("SELECT {AUDIT_COLS} FROM audit_events WHERE actor = ?1 ORDER BY at"),
                params![id],
                audit_row,
            )
        })
        .await
    }
}

fn insert_account(conn: &Connection, a: &Account) -> Result<(), StoreError> {
    let limits = a
        .custom_limits
        .as_ref()
        .map(|l| serde_json::to_string(l).expect("limits serialise"));
    exec(
        conn,
        &format!("INSERT INTO accounts ({ACCOUNT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"),
        params![
            a.account_id,
            a.name,
            a.tier.as_str(),
            a.payment_failed,
            limits,
            a.created_at
        ],
    )
    .map(|_| ())
}

fn insert_member(conn: &Connection, m: &Member) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO account_members (account_id, user_id, role, added_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account_id, user_id) DO UPDATE SET role = ?3",
        params![m.account_id, m.user_id, m.role.as_str(), m.added_at],
    )
    .map(|_| ())
}
