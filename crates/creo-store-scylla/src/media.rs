//! The media library on ScyllaDB: an account's media are one partition (`media`), each row's
//! details as JSON; what they take is one row of `media_storage`, moved by compare-and-set
//! (LWT) so that two nodes' uploads at the edge of the quota never both fit.

use scylla::client::session::Session;
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::Consistency;

use super::account_rows::{statements, LWT_ATTEMPTS};
use super::webhook_rows::decode;
use super::*;
use creo_core::media::Medium;
use creo_store::media::*;

statements! {
    put: "w" true "INSERT INTO media (account_id, media_id, data) VALUES (?, ?, ?)";
    update: "w" false "UPDATE media SET data = ? WHERE account_id = ? AND media_id = ? IF data = ?";
    one: "r" true "SELECT data FROM media WHERE account_id = ? AND media_id = ?";
    all: "r" true "SELECT data FROM media WHERE account_id = ?";
    drop: "w" false "DELETE FROM media WHERE account_id = ? AND media_id = ? IF EXISTS";
    used: "s" true "SELECT bytes FROM media_storage WHERE account_id = ?";
    start_used: "w" false "INSERT INTO media_storage (account_id, bytes) VALUES (?, ?) IF NOT EXISTS";
    move_used: "w" false "UPDATE media_storage SET bytes = ? WHERE account_id = ? IF bytes = ?";
    put_use: "w" true "INSERT INTO media_uses (account_id, media_id, doc_id) VALUES (?, ?, ?)";
    drop_use: "w" true "DELETE FROM media_uses WHERE account_id = ? AND media_id = ? AND doc_id = ?";
    uses: "r" true "SELECT doc_id FROM media_uses WHERE account_id = ? AND media_id = ?";
    put_doc_use: "w" true "INSERT INTO media_uses_by_doc (account_id, doc_id, media_id) VALUES (?, ?, ?)";
    drop_doc_uses: "w" true "DELETE FROM media_uses_by_doc WHERE account_id = ? AND doc_id = ?";
    doc_uses: "r" true "SELECT media_id FROM media_uses_by_doc WHERE account_id = ? AND doc_id = ?";
}

impl ScyllaStore {
    /// Moves the account's counted bytes from what they are to `change(them)`, by compare-and-set;
    /// `None` from `change` leaves them (the move is refused).
    async fn move_storage(
        &self,
        account_id: &str,
        change: impl Fn(i64) -> Option<i64>,
    ) -> Result<bool, StoreError> {
        let st = &self.media;
        for _ in 0..LWT_ATTEMPTS {
            let now: Option<(Option<i64>,)> = self.first(&st.used, (account_id,)).await?;
            let applied = match now {
                None => match change(0) {
                    Some(next) => self.lwt(&st.start_used, (account_id, next)).await?,
                    None => return Ok(false),
                },
                Some((now,)) => {
                    let now = now.unwrap_or(0);
                    match change(now) {
                        Some(next) => self.lwt(&st.move_used, (next, account_id, now)).await?,
                        None => return Ok(false),
                    }
                }
            };
            if applied {
                return Ok(true);
            }
        }
        Err(StoreError::Unavailable(
            "the account's storage kept changing; try again".into(),
        ))
    }
}

#[async_trait]
impl MediaStore for ScyllaStore {
    async fn reserve_storage(
        &self,
        account_id: &str,
        bytes: u64,
        quota: Option<u64>,
    ) -> Result<bool, StoreError> {
        let bytes = bytes.min(i64::MAX as u64) as i64;
        let quota = quota.map(|q| q.min(i64::MAX as u64) as i64);
        self.move_storage(account_id, |now| {
            let next = now.checked_add(bytes)?;
            quota.is_none_or(|q| next <= q).then_some(next)
        })
        .await
    }

    async fn release_storage(&self, account_id: &str, bytes: u64) -> Result<(), StoreError> {
        let bytes = bytes.min(i64::MAX as u64) as i64;
        self.move_storage(account_id, |now| Some((now - bytes).max(0)))
            .await
            .map(|_| ())
    }

    async fn storage_used(&self, account_id: &str) -> Result<u64, StoreError> {
        let now: Option<(Option<i64>,)> = self.first(&self.media.used, (account_id,)).await?;
        Ok(now.and_then(|(b,)| b).unwrap_or(0).max(0) as u64)
    }

    async fn put_medium(&self, medium: &Medium) -> Result<(), StoreError> {
        let data = serde_json::to_string(medium).map_err(unavailable)?;
        self.session
            .execute_unpaged(
                &self.media.put,
                (&medium.account_id, &medium.media_id, &data),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Compare-and-set on the row's JSON as read: a change that raced another is made again
    /// over what that one wrote.
    async fn change_medium(
        &self,
        account_id: &str,
        media_id: &str,
        change: MediumChange,
    ) -> Result<Option<Medium>, StoreError> {
        for _ in 0..LWT_ATTEMPTS {
            let now: Option<(String,)> =
                self.first(&self.media.one, (account_id, media_id)).await?;
            let Some((before,)) = now else {
                return Ok(None);
            };
            let mut medium: Medium = serde_json::from_str(&before).map_err(unavailable)?;
            change(&mut medium);
            let after = serde_json::to_string(&medium).map_err(unavailable)?;
            if self
                .lwt(&self.media.update, (&after, account_id, media_id, &before))
                .await?
            {
                return Ok(Some(medium));
            }
        }
        Err(StoreError::Unavailable(
            "a medium kept changing under this change".into(),
        ))
    }

    async fn medium(&self, account_id: &str, media_id: &str) -> Result<Option<Medium>, StoreError> {
        let rows = self
            .all_rows(&self.media.one, (account_id, media_id))
            .await?;
        Ok(decode::<Medium>(rows)?.pop())
    }

    /// The partition read whole, then sorted: a library is thousands of rows, not millions.
    async fn media(&self, account_id: &str, limit: usize) -> Result<Vec<Medium>, StoreError> {
        let mut all: Vec<Medium> = decode(self.all_rows(&self.media.all, (account_id,)).await?)?;
        all.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.media_id.cmp(&a.media_id))
        });
        all.truncate(limit);
        Ok(all)
    }

    async fn delete_medium(&self, account_id: &str, media_id: &str) -> Result<bool, StoreError> {
        self.lwt(&self.media.drop, (account_id, media_id)).await
    }

    /// The document's previous uses are found through `media_uses_by_doc` and dropped first.
    async fn record_uses(
        &self,
        account_id: &str,
        doc_id: &str,
        media_ids: &[String],
    ) -> Result<(), StoreError> {
        let st = &self.media;
        let before: Vec<(String,)> = self.all_rows(&st.doc_uses, (account_id, doc_id)).await?;
        for (id,) in &before {
            self.session
                .execute_unpaged(&st.drop_use, (account_id, id, doc_id))
                .await
                .map_err(unavailable)?;
        }
        self.session
            .execute_unpaged(&st.drop_doc_uses, (account_id, doc_id))
            .await
            .map_err(unavailable)?;
        for id in media_ids {
            self.session
                .execute_unpaged(&st.put_doc_use, (account_id, doc_id, id))
                .await
                .map_err(unavailable)?;
            self.session
                .execute_unpaged(&st.put_use, (account_id, id, doc_id))
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn uses(&self, account_id: &str, media_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = self
            .all_rows(&self.media.uses, (account_id, media_id))
            .await?;
        Ok(rows.into_iter().map(|(d,)| d).collect())
    }
}
