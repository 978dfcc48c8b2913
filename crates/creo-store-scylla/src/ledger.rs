//! The credit ledger: balances, postings, reservations and settlements.

use async_trait::async_trait;
use creo_core::billing::{Action, EntryKind};
use futures_util::StreamExt;

use super::account_rows::*;
use super::*;
use creo_store::ledger::*;

#[async_trait]
impl LedgerStore for ScyllaStore {
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
}

/// The partition's static columns: (balance, reserved, last_seq).
#[derive(Debug, Clone, Copy)]
pub(super) struct Head {
    pub(super) balance: i64,
    pub(super) reserved: i64,
    pub(super) last_seq: i64,
}

impl ScyllaStore {
    /// The ledger partition's statics, initialising them (by LWT) on first use.
    pub(super) async fn head(&self, account_id: &str) -> Result<Head, StoreError> {
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

    pub(super) async fn entry_at(
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
    pub(super) async fn entry_for_key(
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
    pub(super) async fn try_append(
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

    pub(super) async fn post_one(&self, p: &Posting) -> Result<Posted, StoreError> {
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
