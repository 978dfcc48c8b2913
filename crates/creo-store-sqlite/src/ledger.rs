//! The credit ledger: balances, postings, reservations and settlements.

use async_trait::async_trait;
use creo_core::billing::{Action, Milli};
use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_core::billing::EntryKind;
use creo_store::ledger::*;

#[async_trait]
impl LedgerStore for EmbeddedStore {
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

    async fn spent_by(&self, account_id: &str, user_id: &str) -> Result<Milli, StoreError> {
        let (id, user) = (account_id.to_string(), user_id.to_string());
        self.read(move |c| {
            one(
                c,
                "SELECT COALESCE((SELECT -SUM(amount) FROM credit_ledger
                                  WHERE account_id = ?1 AND user_id = ?2 AND amount < 0), 0)
                      + COALESCE((SELECT SUM(amount) FROM credit_reservations
                                  WHERE account_id = ?1 AND user_id = ?2 AND status = 'held'), 0)",
                params![id, user],
                |r| r.get(0),
            )
            .map(|spent| spent.unwrap_or(0))
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
}

/// The account's balance row: (balance, reserved, last ledger seq).
pub(super) fn balance_row(
    conn: &Connection,
    account_id: &str,
) -> Result<(i64, i64, i64), StoreError> {
    Ok(one(
        conn,
        "SELECT balance, reserved, last_seq FROM credit_balances WHERE account_id = ?1",
        params![account_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?
    .unwrap_or((0, 0, 0)))
}

pub(super) fn put_balance(
    conn: &Connection,
    account_id: &str,
    b: (i64, i64, i64),
) -> Result<(), StoreError> {
    exec(
        conn,
        "INSERT INTO credit_balances (account_id, balance, reserved, last_seq) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (account_id) DO UPDATE SET balance = ?2, reserved = ?3, last_seq = ?4",
        params![account_id, b.0, b.1, b.2],
    )
    .map(|_| ())
}

pub(super) fn entry_by_key(
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

pub(super) fn entry_by_seq(
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
pub(super) fn append_entry(
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
        created_at: creo_store::now_ms(),
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

pub(super) fn post_one(conn: &Connection, p: &Posting) -> Result<Posted, StoreError> {
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

pub(super) fn reservation_by(
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

pub(super) fn set_status(conn: &Connection, r: &Reservation) -> Result<(), StoreError> {
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

pub(super) fn settle_one(
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
