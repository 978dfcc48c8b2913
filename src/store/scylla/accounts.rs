//! `AccountStore` on ScyllaDB (tables at the end of `schema.cql`). Money moves only through
//! lightweight transactions on the account's `credit_ledger` partition, read at SERIAL: a
//! conditional batch that checks the partition's `last_seq` and inserts the entry and its
//! idempotency marker IF NOT EXISTS. When it does not apply (another node moved first), the
//! state is read again and the decision remade, so a balance is never spent twice and a key never
//! charges twice. Other tables use plain writes, with LWT where two writers could race on one
//! decision (an email claim, spending a refresh token, accepting an invitation).

use async_trait::async_trait;
use futures_util::StreamExt;
use scylla::client::session::Session;
use scylla::deserialize::row::DeserializeRow;
use scylla::serialize::batch::BatchValues;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use scylla::value::CqlTimestamp;

use super::ScyllaStore;
use crate::store::accounts::*;
use crate::store::{now_ms, unavailable, StoreError};
use creo_core::billing::{Action, EntryKind, Tier};
use creo_core::role::Role;

/// A conditional write that keeps losing (a very hot account) gives up after this many tries.
const LWT_ATTEMPTS: usize = 32;

macro_rules! statements {
    ($($name:ident: $level:literal $idempotent:literal $cql:literal;)*) => {
        pub(super) struct Statements { $($name: PreparedStatement,)* }

        impl Statements {
            pub(super) async fn prepare(
                session: &Session,
                read: Consistency,
                write: Consistency,
            ) -> Result<Statements, StoreError> {
                Ok(Statements { $($name: {
                    let level = match $level {
                        "r" => read,
                        "s" => Consistency::Serial,
                        _ => write,
                    };
                    super::prepare(session, $cql, level, $idempotent).await?
                },)* })
            }
        }
    };
}

statements! {
    claim_email: "w" false "INSERT INTO users_by_email (email, user_id) VALUES (?, ?) IF NOT EXISTS";
    user_id_by_email: "r" true "SELECT user_id FROM users_by_email WHERE email = ?";
    drop_email: "w" true "DELETE FROM users_by_email WHERE email = ?";
    insert_user: "w" true "INSERT INTO users (user_id, email, name, password_hash, created_at) VALUES (?, ?, ?, ?, ?)";
    user: "r" true "SELECT user_id, email, name, password_hash, created_at FROM users WHERE user_id = ?";
    blank_user: "w" true "UPDATE users SET email = null, name = '', password_hash = '' WHERE user_id = ?";
    insert_account: "w" true "INSERT INTO accounts (account_id, name, tier, payment_failed, custom_limits, created_at) VALUES (?, ?, ?, ?, ?, ?)";
    account: "r" true "SELECT account_id, name, tier, payment_failed, custom_limits, created_at FROM accounts WHERE account_id = ?";
    set_tier: "w" false "UPDATE accounts SET tier = ? WHERE account_id = ? IF EXISTS";
    set_payment_failed: "w" false "UPDATE accounts SET payment_failed = ? WHERE account_id = ? IF EXISTS";
    put_member: "w" true "INSERT INTO account_members (account_id, user_id, role, added_at) VALUES (?, ?, ?, ?)";
    put_membership: "w" true "INSERT INTO memberships_by_user (user_id, account_id, role, added_at) VALUES (?, ?, ?, ?)";
    members: "r" true "SELECT account_id, user_id, role, added_at FROM account_members WHERE account_id = ?";
    memberships: "r" true "SELECT account_id, user_id, role, added_at FROM memberships_by_user WHERE user_id = ?";
    drop_member: "w" false "DELETE FROM account_members WHERE account_id = ? AND user_id = ? IF EXISTS";
    drop_membership: "w" true "DELETE FROM memberships_by_user WHERE user_id = ? AND account_id = ?";
    insert_invitation: "w" true "INSERT INTO invitations (token_hash, invitation_id, account_id, email, role, invited_by, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    index_invitation: "w" true "INSERT INTO invitations_by_account (account_id, invitation_id, token_hash) VALUES (?, ?, ?)";
    invitation: "s" true "SELECT invitation_id, account_id, email, role, invited_by, created_at, expires_at, accepted_by FROM invitations WHERE token_hash = ?";
    invitation_hashes: "r" true "SELECT token_hash FROM invitations_by_account WHERE account_id = ?";
    accept_invitation: "w" false "UPDATE invitations SET accepted_by = ? WHERE token_hash = ? IF accepted_by = null";
    insert_session: "w" true "INSERT INTO auth_sessions (user_id, session_id, account_id, created_at, last_used_at, user_agent, revoked) VALUES (?, ?, ?, ?, ?, ?, false)";
    session: "r" true "SELECT session_id, user_id, account_id, created_at, last_used_at, user_agent, revoked FROM auth_sessions WHERE user_id = ? AND session_id = ?";
    sessions: "r" true "SELECT session_id, user_id, account_id, created_at, last_used_at, user_agent, revoked FROM auth_sessions WHERE user_id = ?";
    revoke_session: "w" false "UPDATE auth_sessions SET revoked = true WHERE user_id = ? AND session_id = ? IF revoked = false";
    touch_session: "w" true "UPDATE auth_sessions SET last_used_at = ? WHERE user_id = ? AND session_id = ?";
    drop_sessions: "w" true "DELETE FROM auth_sessions WHERE user_id = ?";
    insert_refresh: "w" true "INSERT INTO refresh_tokens (token_hash, session_id, user_id, spent, expires_at) VALUES (?, ?, ?, false, ?) USING TTL ?";
    refresh: "s" true "SELECT session_id, user_id, spent, spent_at, expires_at FROM refresh_tokens WHERE token_hash = ?";
    spend_refresh: "w" false "UPDATE refresh_tokens SET spent = true, spent_at = ? WHERE token_hash = ? IF spent = false";
    insert_key: "w" true "INSERT INTO api_keys (key_id, account_id, name, prefix, secret_hash, scopes, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)";
    index_key: "w" true "INSERT INTO api_keys_by_account (account_id, key_id) VALUES (?, ?)";
    key: "r" true "SELECT key_id, account_id, name, prefix, secret_hash, scopes, created_by, created_at, revoked_at FROM api_keys WHERE key_id = ?";
    key_ids: "r" true "SELECT key_id FROM api_keys_by_account WHERE account_id = ?";
    revoke_key: "w" false "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? IF account_id = ? AND revoked_at = null";
    ledger_head: "s" true "SELECT balance, reserved, last_seq FROM credit_ledger WHERE account_id = ? LIMIT 1";
    ledger_init: "w" false "UPDATE credit_ledger SET balance = 0, reserved = 0, last_seq = 0 WHERE account_id = ? IF last_seq = null";
    ledger_move: "w" false "UPDATE credit_ledger SET balance = ?, reserved = ?, last_seq = ? WHERE account_id = ? IF last_seq = ?";
    insert_entry: "w" false "INSERT INTO credit_ledger (account_id, row_key, seq, kind, action, quantity, amount, balance_after, user_id, idempotency_key, reservation_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) IF NOT EXISTS";
    insert_marker: "w" false "INSERT INTO credit_ledger (account_id, row_key, seq, reservation_id) VALUES (?, ?, ?, ?) IF NOT EXISTS";
    marker: "s" true "SELECT seq, reservation_id FROM credit_ledger WHERE account_id = ? AND row_key = ?";
    entry: "s" true "SELECT seq, kind, action, quantity, amount, balance_after, user_id, idempotency_key, reservation_id, created_at FROM credit_ledger WHERE account_id = ? AND row_key = ?";
    entries_before: "r" true "SELECT seq, kind, action, quantity, amount, balance_after, user_id, idempotency_key, reservation_id, created_at FROM credit_ledger WHERE account_id = ? AND row_key >= 'e:' AND row_key < ? ORDER BY row_key DESC LIMIT ?";
    entries_desc: "r" true "SELECT seq, kind, action, quantity, amount, balance_after, user_id, idempotency_key, reservation_id, created_at FROM credit_ledger WHERE account_id = ? AND row_key >= 'e:' AND row_key < 'e;' ORDER BY row_key DESC";
    anonymise_entry: "w" true "UPDATE credit_ledger SET user_id = ? WHERE account_id = ? AND row_key = ?";
    insert_reservation: "w" false "INSERT INTO credit_ledger (account_id, row_key, reservation_id, action, quantity, amount, status, user_id, idempotency_key, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, 'held', ?, ?, ?, ?) IF NOT EXISTS";
    reservation: "s" true "SELECT reservation_id, action, quantity, amount, status, user_id, idempotency_key, created_at, expires_at, entry_seq FROM credit_ledger WHERE account_id = ? AND row_key = ?";
    reservations: "r" true "SELECT reservation_id, action, quantity, amount, status, user_id, idempotency_key, created_at, expires_at, entry_seq FROM credit_ledger WHERE account_id = ? AND row_key >= 'r:' AND row_key < 'r;'";
    settle_reservation: "w" false "UPDATE credit_ledger SET status = ?, entry_seq = ? WHERE account_id = ? AND row_key = ? IF status = 'held'";
    record_event: "w" false "INSERT INTO payment_events (event_id, kind, processed_at) VALUES (?, ?, ?) IF NOT EXISTS";
    event: "r" true "SELECT event_id FROM payment_events WHERE event_id = ?";
    insert_audit: "w" true "INSERT INTO audit_events (account_id, at, event_id, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)";
    insert_audit_by_actor: "w" true "INSERT INTO audit_by_actor (actor, at, event_id, account_id, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?)";
    audit_before: "r" true "SELECT account_id, event_id, at, actor, action, target, detail FROM audit_events WHERE account_id = ? AND at < ? LIMIT ?";
    audit_by_actor: "r" true "SELECT account_id, event_id, at, actor, action, target, detail FROM audit_by_actor WHERE actor = ?";
    anonymise_audit: "w" true "UPDATE audit_events SET actor = ? WHERE account_id = ? AND at = ? AND event_id = ?";
    drop_audit_by_actor: "w" true "DELETE FROM audit_by_actor WHERE actor = ?";
}

fn entry_key(seq: i64) -> String {
    format!("e:{seq:020}")
}

fn ts(ms: i64) -> CqlTimestamp {
    CqlTimestamp(ms)
}

fn parse<T>(what: &str, value: &str, f: impl Fn(&str) -> Option<T>) -> Result<T, StoreError> {
    f(value).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} {value:?}")))
}

type UserRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    CqlTimestamp,
);
type AccountRow = (
    String,
    String,
    String,
    Option<bool>,
    Option<String>,
    CqlTimestamp,
);
type MemberRow = (String, String, String, CqlTimestamp);
type InvitationRow = (
    String,
    String,
    String,
    String,
    String,
    CqlTimestamp,
    CqlTimestamp,
    Option<String>,
);
type SessionRow = (
    String,
    String,
    String,
    CqlTimestamp,
    CqlTimestamp,
    Option<String>,
    Option<bool>,
);
type KeyRow = (
    String,
    String,
    String,
    String,
    String,
    Option<Vec<String>>,
    String,
    CqlTimestamp,
    Option<CqlTimestamp>,
);
type EntryRow = (
    i64,
    String,
    Option<String>,
    i64,
    i64,
    i64,
    String,
    String,
    Option<String>,
    CqlTimestamp,
);
type ReservationRow = (
    String,
    String,
    i64,
    i64,
    String,
    String,
    String,
    CqlTimestamp,
    CqlTimestamp,
    Option<i64>,
);
type AuditRow = (String, String, CqlTimestamp, String, String, String, String);

fn user(r: UserRow) -> User {
    User {
        user_id: r.0,
        email: r.1.unwrap_or_default(),
        name: r.2.unwrap_or_default(),
        password_hash: r.3.unwrap_or_default(),
        created_at: r.4 .0,
    }
}

fn account(r: AccountRow) -> Result<Account, StoreError> {
    Ok(Account {
        account_id: r.0,
        name: r.1,
        tier: parse("tier", &r.2, Tier::parse)?,
        payment_failed: r.3.unwrap_or(false),
        custom_limits: r.4.and_then(|l| serde_json::from_str(&l).ok()),
        created_at: r.5 .0,
    })
}

fn member(r: MemberRow) -> Result<Member, StoreError> {
    Ok(Member {
        account_id: r.0,
        user_id: r.1,
        role: parse("role", &r.2, Role::parse)?,
        added_at: r.3 .0,
    })
}

fn invitation(r: InvitationRow) -> Result<Invitation, StoreError> {
    Ok(Invitation {
        invitation_id: r.0,
        account_id: r.1,
        email: r.2,
        role: parse("role", &r.3, Role::parse)?,
        invited_by: r.4,
        created_at: r.5 .0,
        expires_at: r.6 .0,
        accepted_by: r.7,
    })
}

fn session(r: SessionRow) -> AuthSession {
    AuthSession {
        session_id: r.0,
        user_id: r.1,
        account_id: r.2,
        created_at: r.3 .0,
        last_used_at: r.4 .0,
        user_agent: r.5.unwrap_or_default(),
        revoked: r.6.unwrap_or(false),
    }
}

fn api_key(r: KeyRow) -> ApiKey {
    ApiKey {
        key_id: r.0,
        account_id: r.1,
        name: r.2,
        prefix: r.3,
        secret_hash: r.4,
        scopes: r.5.unwrap_or_default(),
        created_by: r.6,
        created_at: r.7 .0,
        revoked_at: r.8.map(|t| t.0),
    }
}

fn entry(account_id: &str, r: EntryRow) -> Result<LedgerEntry, StoreError> {
    Ok(LedgerEntry {
        account_id: account_id.to_string(),
        seq: r.0,
        kind: parse("entry kind", &r.1, EntryKind::parse)?,
        action: r
            .2
            .map(|a| parse("action", &a, Action::parse))
            .transpose()?,
        quantity: r.3,
        amount_milli: r.4,
        balance_after_milli: r.5,
        user_id: r.6,
        idempotency_key: r.7,
        reservation_id: r.8,
        created_at: r.9 .0,
    })
}

fn reservation(account_id: &str, r: ReservationRow) -> Result<Reservation, StoreError> {
    Ok(Reservation {
        account_id: account_id.to_string(),
        reservation_id: r.0,
        action: parse("action", &r.1, Action::parse)?,
        quantity: r.2,
        amount_milli: r.3,
        status: parse("status", &r.4, ReservationStatus::parse)?,
        user_id: r.5,
        idempotency_key: r.6,
        created_at: r.7 .0,
        expires_at: r.8 .0,
        entry_seq: r.9,
    })
}

fn audit_event(r: AuditRow) -> AuditEvent {
    AuditEvent {
        account_id: r.0,
        event_id: r.1,
        at: r.2 .0,
        actor: r.3,
        action: r.4,
        target: r.5,
        detail: r.6,
    }
}

/// The partition's static columns: (balance, reserved, last_seq).
#[derive(Debug, Clone, Copy)]
struct Head {
    balance: i64,
    reserved: i64,
    last_seq: i64,
}

impl ScyllaStore {
    fn acct(&self) -> &Statements {
        &self.accounts
    }

    async fn exec(
        &self,
        st: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(st, values)
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    pub(super) async fn lwt(
        &self,
        st: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<bool, StoreError> {
        let result = self
            .session
            .execute_unpaged(st, values)
            .await
            .map_err(unavailable)?;
        Self::applied(result)
    }

    async fn lwt_batch(
        &self,
        statements: &[&PreparedStatement],
        values: impl BatchValues,
    ) -> Result<bool, StoreError> {
        let mut batch = Batch::new(BatchType::Logged);
        batch.set_consistency(self.write_consistency);
        for st in statements {
            batch.append_statement((*st).clone());
        }
        let result = self
            .session
            .batch(&batch, values)
            .await
            .map_err(unavailable)?;
        Self::applied(result)
    }

    async fn first<R>(
        &self,
        st: &PreparedStatement,
        values: impl SerializeRow,
    ) -> Result<Option<R>, StoreError>
    where
        R: for<'f, 'm> DeserializeRow<'f, 'm>,
    {
        self.session
            .execute_unpaged(st, values)
            .await
            .map_err(unavailable)?
            .into_rows_result()
            .map_err(unavailable)?
            .maybe_first_row::<R>()
            .map_err(unavailable)
    }

    /// The ledger partition's statics, initialising them (by LWT) on first use.
    async fn head(&self, account_id: &str) -> Result<Head, StoreError> {
        for _ in 0..LWT_ATTEMPTS {
            let row: Option<(Option<i64>, Option<i64>, Option<i64>)> =
                self.first(&self.acct().ledger_head, (account_id,)).await?;
            match row {
                Some((Some(balance), Some(reserved), Some(last_seq))) => {
                    return Ok(Head {
                        balance,
                        reserved,
                        last_seq,
                    })
                }
                _ => {
                    self.lwt(&self.acct().ledger_init, (account_id,)).await?;
                }
            }
        }
        Err(unavailable("ledger head could not be initialised"))
    }

    async fn entry_at(
        &self,
        account_id: &str,
        seq: i64,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let row: Option<EntryRow> = self
            .first(&self.acct().entry, (account_id, entry_key(seq)))
            .await?;
        row.map(|r| entry(account_id, r)).transpose()
    }

    /// The entry an idempotency key produced, if any.
    async fn entry_for_key(
        &self,
        account_id: &str,
        key: &str,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let marker: Option<(Option<i64>, Option<String>)> = self
            .first(&self.acct().marker, (account_id, format!("k:{key}")))
            .await?;
        match marker.and_then(|m| m.0) {
            Some(seq) => self.entry_at(account_id, seq).await,
            None => Ok(None),
        }
    }

    /// Appends an entry and moves the statics, conditional on `head` still being current
    /// (`false`: it was not; read again).
    async fn try_append(
        &self,
        p: &Posting,
        head: Head,
        reservation_id: Option<&str>,
        unreserve: i64,
        extra: Option<(&str, &str)>,
    ) -> Result<Option<LedgerEntry>, StoreError> {
        let st = self.acct();
        let e = LedgerEntry {
            account_id: p.account_id.clone(),
            seq: head.last_seq + 1,
            kind: p.kind,
            action: p.action,
            quantity: p.quantity,
            amount_milli: p.amount_milli,
            balance_after_milli: head.balance + p.amount_milli,
            user_id: p.user_id.clone(),
            idempotency_key: p.idempotency_key.clone(),
            reservation_id: reservation_id.map(str::to_string),
            created_at: now_ms(),
        };
        let moved = (
            e.balance_after_milli,
            head.reserved - unreserve,
            e.seq,
            &p.account_id,
            head.last_seq,
        );
        let inserted = (
            &p.account_id,
            entry_key(e.seq),
            e.seq,
            e.kind.as_str(),
            e.action.map(Action::as_str),
            e.quantity,
            e.amount_milli,
            e.balance_after_milli,
            &e.user_id,
            &e.idempotency_key,
            &e.reservation_id,
            ts(e.created_at),
        );
        let marker = (
            &p.account_id,
            format!("k:{}", p.idempotency_key),
            e.seq,
            None::<String>,
        );
        let applied = match extra {
            // A capture also marks its reservation captured, in the same transaction.
            Some((status, rid)) => {
                self.lwt_batch(
                    &[
                        &st.ledger_move,
                        &st.insert_entry,
                        &st.insert_marker,
                        &st.settle_reservation,
                    ],
                    (
                        moved,
                        inserted,
                        marker,
                        (status, Some(e.seq), &p.account_id, format!("r:{rid}")),
                    ),
                )
                .await?
            }
            None => {
                self.lwt_batch(
                    &[&st.ledger_move, &st.insert_entry, &st.insert_marker],
                    (moved, inserted, marker),
                )
                .await?
            }
        };
        Ok(applied.then_some(e))
    }

    async fn post_one(&self, p: &Posting) -> Result<Posted, StoreError> {
        for _ in 0..LWT_ATTEMPTS {
            if let Some(e) = self
                .entry_for_key(&p.account_id, &p.idempotency_key)
                .await?
            {
                let same =
                    e.kind == p.kind && e.action == p.action && e.amount_milli == p.amount_milli;
                return Ok(if same {
                    Posted::Replayed(e)
                } else {
                    Posted::KeyConflict
                });
            }
            let head = self.head(&p.account_id).await?;
            if p.amount_milli < 0 && head.balance - head.reserved + p.amount_milli < 0 {
                return Ok(Posted::Insufficient {
                    available: head.balance - head.reserved,
                });
            }
            if let Some(e) = self.try_append(p, head, None, 0, None).await? {
                return Ok(Posted::Applied(e));
            }
        }
        Err(unavailable("ledger contention: try again"))
    }

    async fn reservation_row(
        &self,
        account_id: &str,
        reservation_id: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        let row: Option<ReservationRow> = self
            .first(
                &self.acct().reservation,
                (account_id, format!("r:{reservation_id}")),
            )
            .await?;
        row.map(|r| reservation(account_id, r)).transpose()
    }
}

#[async_trait]
impl AccountStore for ScyllaStore {
    async fn register(
        &self,
        u: &User,
        a: &Account,
        grant: Option<Posting>,
    ) -> Result<bool, StoreError> {
        let st = self.acct();
        if !self.lwt(&st.claim_email, (&u.email, &u.user_id)).await? {
            return Ok(false);
        }
        self.exec(
            &st.insert_user,
            (
                &u.user_id,
                &u.email,
                &u.name,
                &u.password_hash,
                ts(u.created_at),
            ),
        )
        .await?;
        let owner = Member {
            account_id: a.account_id.clone(),
            user_id: u.user_id.clone(),
            role: Role::Owner,
            added_at: u.created_at,
        };
        self.create_account(a, &owner).await?;
        if let Some(g) = grant {
            self.post_one(&g).await?;
        }
        Ok(true)
    }

    async fn user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = self.first(&self.acct().user, (user_id,)).await?;
        Ok(row.map(user).filter(|u| !u.email.is_empty()))
    }

    async fn user_by_email(&self, email: &str) -> Result<Option<User>, StoreError> {
        let id: Option<(String,)> = self.first(&self.acct().user_id_by_email, (email,)).await?;
        match id {
            Some((id,)) => self.user(&id).await,
            None => Ok(None),
        }
    }

    async fn erase_user(&self, user_id: &str) -> Result<bool, StoreError> {
        let st = self.acct();
        let Some(u) = self.user(user_id).await? else {
            return Ok(false);
        };
        self.exec(&st.drop_email, (&u.email,)).await?;
        self.exec(&st.blank_user, (user_id,)).await?;
        self.exec(&st.drop_sessions, (user_id,)).await?;
        for m in self.memberships(user_id).await? {
            self.exec(&st.drop_member, (&m.account_id, user_id)).await?;
            self.exec(&st.drop_membership, (user_id, &m.account_id))
                .await?;
            // Ledger rows keep the money record, not the person.
            let rows: Vec<EntryRow> = self.all_rows(&st.entries_desc, (&m.account_id,)).await?;
            for r in rows.into_iter().filter(|r| r.6 == user_id) {
                self.exec(
                    &st.anonymise_entry,
                    (DELETED_USER, &m.account_id, entry_key(r.0)),
                )
                .await?;
            }
        }
        for e in self.audit_events_by(user_id).await? {
            self.exec(
                &st.anonymise_audit,
                (DELETED_USER, &e.account_id, ts(e.at), &e.event_id),
            )
            .await?;
        }
        self.exec(&st.drop_audit_by_actor, (user_id,)).await?;
        Ok(true)
    }

    async fn create_account(&self, a: &Account, owner: &Member) -> Result<(), StoreError> {
        let limits = a
            .custom_limits
            .as_ref()
            .map(|l| serde_json::to_string(l).expect("limits serialise"));
        self.exec(
            &self.acct().insert_account,
            (
                &a.account_id,
                &a.name,
                a.tier.as_str(),
                a.payment_failed,
                limits,
                ts(a.created_at),
            ),
        )
        .await?;
        self.put_member(owner, None).await?;
        self.head(&a.account_id).await.map(|_| ())
    }

    async fn account(&self, account_id: &str) -> Result<Option<Account>, StoreError> {
        let row: Option<AccountRow> = self.first(&self.acct().account, (account_id,)).await?;
        row.map(account).transpose()
    }

    async fn set_tier(&self, account_id: &str, tier: Tier) -> Result<bool, StoreError> {
        self.lwt(&self.acct().set_tier, (tier.as_str(), account_id))
            .await
    }

    async fn set_payment_failed(&self, account_id: &str, failed: bool) -> Result<bool, StoreError> {
        self.lwt(&self.acct().set_payment_failed, (failed, account_id))
            .await
    }

    async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError> {
        let rows: Vec<MemberRow> = self.all_rows(&self.acct().members, (account_id,)).await?;
        let mut out: Vec<Member> = rows.into_iter().map(member).collect::<Result<_, _>>()?;
        out.sort_by(|a, b| (a.added_at, &a.user_id).cmp(&(b.added_at, &b.user_id)));
        Ok(out)
    }

    async fn memberships(&self, user_id: &str) -> Result<Vec<Member>, StoreError> {
        let rows: Vec<MemberRow> = self.all_rows(&self.acct().memberships, (user_id,)).await?;
        let mut out: Vec<Member> = rows.into_iter().map(member).collect::<Result<_, _>>()?;
        out.sort_by(|a, b| (a.added_at, &a.account_id).cmp(&(b.added_at, &b.account_id)));
        Ok(out)
    }

    async fn put_member(&self, m: &Member, seats: Option<u32>) -> Result<bool, StoreError> {
        if let Some(seats) = seats {
            let members = self.members(&m.account_id).await?;
            let present = members.iter().any(|x| x.user_id == m.user_id);
            if !present && members.len() >= seats as usize {
                return Ok(false);
            }
        }
        let st = self.acct();
        let role = m.role.as_str();
        self.exec(
            &st.put_member,
            (&m.account_id, &m.user_id, role, ts(m.added_at)),
        )
        .await?;
        self.exec(
            &st.put_membership,
            (&m.user_id, &m.account_id, role, ts(m.added_at)),
        )
        .await?;
        Ok(true)
    }

    async fn remove_member(&self, account_id: &str, user_id: &str) -> Result<bool, StoreError> {
        let st = self.acct();
        let removed = self.lwt(&st.drop_member, (account_id, user_id)).await?;
        self.exec(&st.drop_membership, (user_id, account_id))
            .await?;
        Ok(removed)
    }

    async fn create_invitation(&self, i: &Invitation, token_hash: &str) -> Result<(), StoreError> {
        let st = self.acct();
        self.exec(
            &st.insert_invitation,
            (
                token_hash,
                &i.invitation_id,
                &i.account_id,
                &i.email,
                i.role.as_str(),
                &i.invited_by,
                ts(i.created_at),
                ts(i.expires_at),
            ),
        )
        .await?;
        self.exec(
            &st.index_invitation,
            (&i.account_id, &i.invitation_id, token_hash),
        )
        .await
    }

    async fn invitations(&self, account_id: &str) -> Result<Vec<Invitation>, StoreError> {
        let hashes: Vec<(String,)> = self
            .all_rows(&self.acct().invitation_hashes, (account_id,))
            .await?;
        let mut out = Vec::new();
        for (h,) in hashes {
            if let Some(i) = self.invitation_by_token(&h).await? {
                out.push(i);
            }
        }
        out.sort_by_key(|i| i.created_at);
        Ok(out)
    }

    async fn invitation_by_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<Invitation>, StoreError> {
        let row: Option<InvitationRow> = self.first(&self.acct().invitation, (token_hash,)).await?;
        row.map(invitation).transpose()
    }

    async fn accept_invitation(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Option<Invitation>, StoreError> {
        let Some(i) = self.invitation_by_token(token_hash).await? else {
            return Ok(None);
        };
        if i.expires_at <= now || i.accepted_by.is_some() {
            return Ok(None);
        }
        if !self
            .lwt(&self.acct().accept_invitation, (user_id, token_hash))
            .await?
        {
            return Ok(None);
        }
        Ok(Some(Invitation {
            accepted_by: Some(user_id.to_string()),
            ..i
        }))
    }

    async fn create_session(
        &self,
        s: &AuthSession,
        refresh_hash: &str,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        let st = self.acct();
        self.exec(
            &st.insert_session,
            (
                &s.user_id,
                &s.session_id,
                &s.account_id,
                ts(s.created_at),
                ts(s.last_used_at),
                &s.user_agent,
            ),
        )
        .await?;
        let ttl = ((expires_at - now_ms()) / 1000).clamp(1, i32::MAX as i64) as i32;
        self.exec(
            &st.insert_refresh,
            (refresh_hash, &s.session_id, &s.user_id, ts(expires_at), ttl),
        )
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
        let st = self.acct();
        let row: Option<(
            String,
            String,
            Option<bool>,
            Option<CqlTimestamp>,
            CqlTimestamp,
        )> = self.first(&st.refresh, (old_hash,)).await?;
        let Some((session_id, user_id, spent, spent_at, token_expiry)) = row else {
            return Ok(Refreshed::Invalid);
        };
        let row: Option<SessionRow> = self.first(&st.session, (&user_id, &session_id)).await?;
        let Some(mut s) = row.map(session) else {
            return Ok(Refreshed::Invalid);
        };
        let reuse = |mut s: AuthSession| async move {
            self.lwt(&st.revoke_session, (&s.user_id, &s.session_id))
                .await?;
            s.revoked = true;
            Ok::<_, StoreError>(Refreshed::Reused(s))
        };
        // Spent longer ago than the grace window (or before spent_at was recorded): a replay.
        let within_grace = |at: Option<CqlTimestamp>| at.is_some_and(|at| now - at.0 <= grace_ms);
        if spent.unwrap_or(false) && !within_grace(spent_at) {
            return reuse(s).await;
        }
        if s.revoked || token_expiry.0 <= now {
            return Ok(Refreshed::Invalid);
        }
        if !spent.unwrap_or(false)
            && !self.lwt(&st.spend_refresh, (ts(now), old_hash)).await?
            && grace_ms <= 0
        {
            // Spent this instant by a concurrent request with the same token: within any grace
            // window that is two tabs refreshing at once; without one it is reuse.
            return reuse(s).await;
        }
        let ttl = ((expires_at - now) / 1000).clamp(1, i32::MAX as i64) as i32;
        self.exec(
            &st.insert_refresh,
            (new_hash, &session_id, &user_id, ts(expires_at), ttl),
        )
        .await?;
        self.exec(&st.touch_session, (ts(now), &user_id, &session_id))
            .await?;
        s.last_used_at = now;
        Ok(Refreshed::Rotated(s))
    }

    async fn sessions(&self, user_id: &str) -> Result<Vec<AuthSession>, StoreError> {
        let rows: Vec<SessionRow> = self.all_rows(&self.acct().sessions, (user_id,)).await?;
        let mut out: Vec<AuthSession> = rows.into_iter().map(session).collect();
        out.sort_by_key(|s| s.created_at);
        Ok(out)
    }

    async fn session(
        &self,
        user_id: &str,
        session_id: &str,
    ) -> Result<Option<AuthSession>, StoreError> {
        let row: Option<SessionRow> = self
            .first(&self.acct().session, (user_id, session_id))
            .await?;
        Ok(row.map(session))
    }

    async fn revoke_session(&self, user_id: &str, session_id: &str) -> Result<bool, StoreError> {
        self.lwt(&self.acct().revoke_session, (user_id, session_id))
            .await
    }

    async fn create_api_key(&self, k: &ApiKey) -> Result<(), StoreError> {
        let st = self.acct();
        self.exec(
            &st.insert_key,
            (
                &k.key_id,
                &k.account_id,
                &k.name,
                &k.prefix,
                &k.secret_hash,
                &k.scopes,
                &k.created_by,
                ts(k.created_at),
            ),
        )
        .await?;
        self.exec(&st.index_key, (&k.account_id, &k.key_id)).await
    }

    async fn api_key(&self, key_id: &str) -> Result<Option<ApiKey>, StoreError> {
        let row: Option<KeyRow> = self.first(&self.acct().key, (key_id,)).await?;
        Ok(row.map(api_key))
    }

    async fn api_keys(&self, account_id: &str) -> Result<Vec<ApiKey>, StoreError> {
        let ids: Vec<(String,)> = self.all_rows(&self.acct().key_ids, (account_id,)).await?;
        let mut out = Vec::new();
        for (id,) in ids {
            if let Some(k) = self.api_key(&id).await? {
                out.push(k);
            }
        }
        out.sort_by_key(|k| k.created_at);
        Ok(out)
    }

    async fn revoke_api_key(
        &self,
        account_id: &str,
        key_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.lwt(&self.acct().revoke_key, (ts(now), key_id, account_id))
            .await
    }

    async fn balance(&self, account_id: &str) -> Result<Balance, StoreError> {
        let h = self.head(account_id).await?;
        Ok(Balance {
            balance_milli: h.balance,
            reserved_milli: h.reserved,
        })
    }

    async fn post(&self, postings: Vec<Posting>) -> Result<Vec<Posted>, StoreError> {
        let mut out = Vec::with_capacity(postings.len());
        for p in &postings {
            out.push(self.post_one(p).await?);
        }
        Ok(out)
    }

    async fn reserve(&self, r: &Reservation) -> Result<Reserved, StoreError> {
        let st = self.acct();
        for _ in 0..LWT_ATTEMPTS {
            let marker: Option<(Option<i64>, Option<String>)> = self
                .first(
                    &st.marker,
                    (&r.account_id, format!("rk:{}", r.idempotency_key)),
                )
                .await?;
            if let Some(id) = marker.and_then(|m| m.1) {
                let existing = self.reservation_row(&r.account_id, &id).await?;
                return Ok(match existing {
                    Some(e) if e.action == r.action && e.quantity == r.quantity => {
                        Reserved::Replayed(e)
                    }
                    _ => Reserved::KeyConflict,
                });
            }
            let h = self.head(&r.account_id).await?;
            if h.balance - h.reserved < r.amount_milli {
                return Ok(Reserved::Insufficient {
                    available: h.balance - h.reserved,
                });
            }
            let applied = self
                .lwt_batch(
                    &[&st.ledger_move, &st.insert_reservation, &st.insert_marker],
                    (
                        (
                            h.balance,
                            h.reserved + r.amount_milli,
                            h.last_seq,
                            &r.account_id,
                            h.last_seq,
                        ),
                        (
                            &r.account_id,
                            format!("r:{}", r.reservation_id),
                            &r.reservation_id,
                            r.action.as_str(),
                            r.quantity,
                            r.amount_milli,
                            &r.user_id,
                            &r.idempotency_key,
                            ts(r.created_at),
                            ts(r.expires_at),
                        ),
                        (
                            &r.account_id,
                            format!("rk:{}", r.idempotency_key),
                            None::<i64>,
                            Some(&r.reservation_id),
                        ),
                    ),
                )
                .await?;
            if applied {
                return Ok(Reserved::Held(r.clone()));
            }
        }
        Err(unavailable("ledger contention: try again"))
    }

    async fn settle(
        &self,
        account_id: &str,
        reservation_id: &str,
        how: Settlement,
        _now: i64,
    ) -> Result<Settled, StoreError> {
        let st = self.acct();
        for _ in 0..LWT_ATTEMPTS {
            let Some(mut r) = self.reservation_row(account_id, reservation_id).await? else {
                return Ok(Settled::NotFound);
            };
            if r.status != ReservationStatus::Held {
                let e = match r.entry_seq {
                    Some(seq) => self.entry_at(account_id, seq).await?,
                    None => None,
                };
                return Ok(if r.settled_as(how) {
                    Settled::Replayed(r, e)
                } else {
                    Settled::Conflict(r)
                });
            }
            let h = self.head(account_id).await?;
            match how {
                Settlement::Capture { quantity } if quantity > 0 => {
                    let q = quantity.min(r.quantity);
                    let p = Posting {
                        account_id: account_id.to_string(),
                        idempotency_key: format!("capture:{reservation_id}"),
                        kind: EntryKind::Capture,
                        action: Some(r.action),
                        quantity: q,
                        amount_milli: -r.capture_amount(q),
                        user_id: r.user_id.clone(),
                    };
                    let appended = self
                        .try_append(
                            &p,
                            h,
                            Some(reservation_id),
                            r.amount_milli,
                            Some(("captured", reservation_id)),
                        )
                        .await?;
                    if let Some(e) = appended {
                        r.status = ReservationStatus::Captured;
                        r.entry_seq = Some(e.seq);
                        return Ok(Settled::Done(r, Some(e)));
                    }
                }
                _ => {
                    let applied = self
                        .lwt_batch(
                            &[&st.ledger_move, &st.settle_reservation],
                            (
                                (
                                    h.balance,
                                    h.reserved - r.amount_milli,
                                    h.last_seq,
                                    account_id,
                                    h.last_seq,
                                ),
                                (
                                    "released",
                                    None::<i64>,
                                    account_id,
                                    format!("r:{reservation_id}"),
                                ),
                            ),
                        )
                        .await?;
                    if applied {
                        r.status = ReservationStatus::Released;
                        return Ok(Settled::Done(r, None));
                    }
                }
            }
        }
        Err(unavailable("ledger contention: try again"))
    }

    async fn reservation(
        &self,
        account_id: &str,
        reservation_id: &str,
    ) -> Result<Option<Reservation>, StoreError> {
        self.reservation_row(account_id, reservation_id).await
    }

    async fn expired_reservations(
        &self,
        account_id: &str,
        now: i64,
    ) -> Result<Vec<Reservation>, StoreError> {
        let rows: Vec<ReservationRow> = self
            .all_rows(&self.acct().reservations, (account_id,))
            .await?;
        let all: Vec<Reservation> = rows
            .into_iter()
            .map(|r| reservation(account_id, r))
            .collect::<Result<_, _>>()?;
        Ok(all
            .into_iter()
            .filter(|r| r.status == ReservationStatus::Held && r.expires_at <= now)
            .collect())
    }

    async fn ledger(
        &self,
        account_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        let upper = before.map_or_else(|| "e;".to_string(), entry_key);
        let rows: Vec<EntryRow> = self
            .all_rows(
                &self.acct().entries_before,
                (account_id, upper, limit as i32),
            )
            .await?;
        rows.into_iter().map(|r| entry(account_id, r)).collect()
    }

    async fn ledger_since(
        &self,
        account_id: &str,
        since_ms: i64,
    ) -> Result<Vec<LedgerEntry>, StoreError> {
        // Newest first, paged, stopping at the first entry older than `since_ms`: a month's usage
        // reads a month of entries, not the account's whole history.
        let mut rows = self
            .session
            .execute_iter(self.acct().entries_desc.clone(), (account_id,))
            .await
            .map_err(unavailable)?
            .rows_stream::<EntryRow>()
            .map_err(unavailable)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().await {
            let e = entry(account_id, row.map_err(unavailable)?)?;
            if e.created_at < since_ms {
                break;
            }
            out.push(e);
        }
        out.reverse();
        Ok(out)
    }

    async fn record_event(&self, event_id: &str, kind: &str, at: i64) -> Result<bool, StoreError> {
        self.lwt(&self.acct().record_event, (event_id, kind, ts(at)))
            .await
    }

    async fn event_processed(&self, event_id: &str) -> Result<bool, StoreError> {
        let row: Option<(String,)> = self.first(&self.acct().event, (event_id,)).await?;
        Ok(row.is_some())
    }

    async fn audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        let st = self.acct();
        self.exec(
            &st.insert_audit,
            (
                &e.account_id,
                ts(e.at),
                &e.event_id,
                &e.actor,
                &e.action,
                &e.target,
                &e.detail,
            ),
        )
        .await?;
        self.exec(
            &st.insert_audit_by_actor,
            (
                &e.actor,
                ts(e.at),
                &e.event_id,
                &e.account_id,
                &e.action,
                &e.target,
                &e.detail,
            ),
        )
        .await
    }

    async fn audit_events(
        &self,
        account_id: &str,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let rows: Vec<AuditRow> = self
            .all_rows(
                &self.acct().audit_before,
                (account_id, ts(before.unwrap_or(i64::MAX)), limit as i32),
            )
            .await?;
        Ok(rows.into_iter().map(audit_event).collect())
    }

    async fn audit_events_by(&self, user_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let rows: Vec<AuditRow> = self
            .all_rows(&self.acct().audit_by_actor, (user_id,))
            .await?;
        Ok(rows.into_iter().map(audit_event).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_keys_sort_by_sequence_and_apart_from_markers() {
        assert!(entry_key(9) < entry_key(10));
        assert!(entry_key(i64::MAX).as_str() < "e;");
        assert!(entry_key(1).as_str() < "k:" && "k:" < "r:");
        assert!("rk:x" > "r;");
    }
}
