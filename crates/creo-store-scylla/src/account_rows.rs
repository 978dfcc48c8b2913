//! `AccountStore` on ScyllaDB (tables at the end of `schema.cql`). Money moves only through
//! lightweight transactions on the account's `credit_ledger` partition, read at SERIAL: a
//! conditional batch that checks the partition's `last_seq` and inserts the entry and its
//! idempotency marker IF NOT EXISTS. When it does not apply (another node moved first), the
//! state is read again and the decision remade, so a balance is never spent twice and a key never
//! charges twice. Other tables use plain writes, with LWT where two writers could race on one
//! decision (an email claim, spending a refresh token, accepting an invitation).

use scylla::client::session::Session;
use scylla::deserialize::row::DeserializeRow;
use scylla::serialize::batch::BatchValues;
use scylla::serialize::row::SerializeRow;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;
use scylla::value::CqlTimestamp;

use super::ScyllaStore;
use creo_core::billing::{Action, EntryKind, Tier};
use creo_core::role::Role;
use creo_store::{
    accounts::*, api_keys::*, audit::*, invitations::*, ledger::*, login_sessions::*, members::*,
    users::*,
};
use creo_store::{unavailable, StoreError};

/// A conditional write that keeps losing (a very hot account) gives up after this many tries.
pub(super) const LWT_ATTEMPTS: usize = 32;

macro_rules! statements {
    ($($name:ident: $level:literal $idempotent:literal $cql:literal;)*) => {
        pub(super) struct Statements { $(pub(super) $name: PreparedStatement,)* }

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
// Other aggregates' statement lists (`notification_rows.rs`) are declared the same way.
pub(super) use statements;

statements! {
    claim_email: "w" false "INSERT INTO users_by_email (email, user_id) VALUES (?, ?) IF NOT EXISTS";
    user_id_by_email: "r" true "SELECT user_id FROM users_by_email WHERE email = ?";
    drop_email: "w" true "DELETE FROM users_by_email WHERE email = ?";
    insert_user: "w" true "INSERT INTO users (user_id, email, name, password_hash, created_at, email_verified_at) VALUES (?, ?, ?, ?, ?, ?)";
    user: "r" true "SELECT user_id, email, name, password_hash, created_at, email_verified_at FROM users WHERE user_id = ?";
    set_email_verified: "w" false "UPDATE users SET email_verified_at = ? WHERE user_id = ? IF email = ?";
    move_email: "w" false "UPDATE users SET email = ?, email_verified_at = ? WHERE user_id = ? IF email = ?";
    set_password: "w" false "UPDATE users SET password_hash = ? WHERE user_id = ? IF EXISTS";
    blank_user: "w" true "UPDATE users SET email = null, name = '', password_hash = '' WHERE user_id = ?";
    insert_account: "w" true "INSERT INTO accounts (account_id, name, tier, payment_failed, custom_limits, created_at, require_mfa) VALUES (?, ?, ?, ?, ?, ?, ?)";
    account: "r" true "SELECT account_id, name, tier, payment_failed, custom_limits, created_at, require_mfa FROM accounts WHERE account_id = ?";
    set_require_mfa: "w" false "UPDATE accounts SET require_mfa = ? WHERE account_id = ? IF EXISTS";
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
    index_invitation_by_email: "w" true "INSERT INTO invitations_by_email (email, invitation_id, token_hash) VALUES (?, ?, ?)";
    invitation_hashes_for: "r" true "SELECT token_hash FROM invitations_by_email WHERE email = ?";
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
    second_factor: "s" true "SELECT user_id, sealed_secret, enabled_at, last_step FROM second_factors WHERE user_id = ?";
    insert_second_factor: "w" false "INSERT INTO second_factors (user_id, sealed_secret, last_step, created_at) VALUES (?, ?, 0, ?) IF NOT EXISTS";
    repend_second_factor: "w" false "UPDATE second_factors SET sealed_secret = ?, created_at = ? WHERE user_id = ? IF enabled_at = null";
    enable_second_factor: "w" false "UPDATE second_factors SET enabled_at = ?, last_step = ? WHERE user_id = ? IF sealed_secret = ? AND enabled_at = null";
    use_step: "w" false "UPDATE second_factors SET last_step = ? WHERE user_id = ? IF last_step < ?";
    drop_second_factor: "w" true "DELETE FROM second_factors WHERE user_id = ?";
    insert_recovery_code: "w" true "INSERT INTO recovery_codes (user_id, digest, spent) VALUES (?, ?, false)";
    recovery_codes: "s" true "SELECT digest, spent FROM recovery_codes WHERE user_id = ?";
    spend_recovery_code: "w" false "UPDATE recovery_codes SET spent = true, spent_at = ? WHERE user_id = ? AND digest = ? IF spent = false";
    drop_recovery_code: "w" true "DELETE FROM recovery_codes WHERE user_id = ? AND digest = ?";
    drop_recovery_codes: "w" true "DELETE FROM recovery_codes WHERE user_id = ?";
}

pub(super) fn entry_key(seq: i64) -> String {
    format!("e:{seq:020}")
}

pub(super) fn ts(ms: i64) -> CqlTimestamp {
    CqlTimestamp(ms)
}

pub(super) fn parse<T>(
    what: &str,
    value: &str,
    f: impl Fn(&str) -> Option<T>,
) -> Result<T, StoreError> {
    f(value).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} {value:?}")))
}

pub(super) type UserRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    CqlTimestamp,
    Option<CqlTimestamp>,
);
pub(super) type AccountRow = (
    String,
    String,
    String,
    Option<bool>,
    Option<String>,
    CqlTimestamp,
    Option<bool>,
);
pub(super) type MemberRow = (String, String, String, CqlTimestamp);
pub(super) type InvitationRow = (
    String,
    String,
    String,
    String,
    String,
    CqlTimestamp,
    CqlTimestamp,
    Option<String>,
);
pub(super) type SessionRow = (
    String,
    String,
    String,
    CqlTimestamp,
    CqlTimestamp,
    Option<String>,
    Option<bool>,
);
pub(super) type KeyRow = (
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
pub(super) type EntryRow = (
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
pub(super) type ReservationRow = (
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
pub(super) type AuditRow = (String, String, CqlTimestamp, String, String, String, String);

pub(super) fn user(r: UserRow) -> User {
    User {
        user_id: r.0,
        email: r.1.unwrap_or_default(),
        name: r.2.unwrap_or_default(),
        password_hash: r.3.unwrap_or_default(),
        created_at: r.4 .0,
        email_verified_at: r.5.map(|t| t.0),
    }
}

pub(super) fn account(r: AccountRow) -> Result<Account, StoreError> {
    Ok(Account {
        account_id: r.0,
        name: r.1,
        tier: parse("tier", &r.2, Tier::parse)?,
        payment_failed: r.3.unwrap_or(false),
        custom_limits: r.4.and_then(|l| serde_json::from_str(&l).ok()),
        created_at: r.5 .0,
        require_mfa: r.6.unwrap_or(false),
    })
}

pub(super) fn member(r: MemberRow) -> Result<Member, StoreError> {
    Ok(Member {
        account_id: r.0,
        user_id: r.1,
        role: parse("role", &r.2, Role::parse)?,
        added_at: r.3 .0,
    })
}

pub(super) fn invitation(r: InvitationRow) -> Result<Invitation, StoreError> {
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

pub(super) fn session(r: SessionRow) -> AuthSession {
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

pub(super) fn api_key(r: KeyRow) -> ApiKey {
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

pub(super) fn entry(account_id: &str, r: EntryRow) -> Result<LedgerEntry, StoreError> {
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

pub(super) fn reservation(account_id: &str, r: ReservationRow) -> Result<Reservation, StoreError> {
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

pub(super) fn audit_event(r: AuditRow) -> AuditEvent {
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

impl ScyllaStore {
    pub(super) fn acct(&self) -> &Statements {
        &self.accounts
    }

    pub(super) async fn exec(
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

    pub(super) async fn lwt_batch(
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

    pub(super) async fn first<R>(
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
