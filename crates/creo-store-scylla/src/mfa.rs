//! A person's second factor and recovery codes. Every decision two requests could race on is a
//! lightweight transaction: enabling the pending secret (IF sealed_secret = ? AND enabled_at =
//! null), accepting a time step (IF last_step < ?), spending a code (IF spent = false).

use async_trait::async_trait;
use scylla::value::CqlTimestamp;

use super::account_rows::ts;
use super::*;
use creo_store::mfa::*;

type SecondFactorRow = (String, String, Option<CqlTimestamp>, Option<i64>);

#[async_trait]
impl MfaStore for ScyllaStore {
    async fn second_factor(&self, user_id: &str) -> Result<Option<SecondFactor>, StoreError> {
        let row: Option<SecondFactorRow> =
            self.first(&self.acct().second_factor, (user_id,)).await?;
        Ok(
            row.map(|(user_id, sealed_secret, enabled, last)| SecondFactor {
                user_id,
                sealed_secret,
                enabled_at: enabled.map(|t| t.0),
                last_step: last.unwrap_or(0),
            }),
        )
    }

    async fn begin_enrolment(
        &self,
        user_id: &str,
        sealed_secret: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let st = self.acct();
        if self
            .lwt(&st.insert_second_factor, (user_id, sealed_secret, ts(now)))
            .await?
        {
            return Ok(true);
        }
        // A row exists: replace it while it is still pending.
        self.lwt(&st.repend_second_factor, (sealed_secret, ts(now), user_id))
            .await
    }

    async fn enable(
        &self,
        user_id: &str,
        sealed_secret: &str,
        step: i64,
        recovery_digests: &[String],
        now: i64,
    ) -> Result<bool, StoreError> {
        if !self
            .lwt(
                &self.acct().enable_second_factor,
                (ts(now), step, user_id, sealed_secret),
            )
            .await?
        {
            return Ok(false);
        }
        self.replace_recovery_codes(user_id, recovery_digests)
            .await?;
        Ok(true)
    }

    async fn use_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        match self.second_factor(user_id).await? {
            Some(f) if f.enabled_at.is_some() => {
                self.lwt(&self.acct().use_step, (step, user_id, step)).await
            }
            _ => Ok(false),
        }
    }

    async fn spend_recovery_code(
        &self,
        user_id: &str,
        digest: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.lwt(&self.acct().spend_recovery_code, (ts(now), user_id, digest))
            .await
    }

    async fn recovery_codes_left(&self, user_id: &str) -> Result<usize, StoreError> {
        let rows: Vec<(String, Option<bool>)> = self
            .all_rows(&self.acct().recovery_codes, (user_id,))
            .await?;
        Ok(rows
            .iter()
            .filter(|(_, spent)| *spent == Some(false))
            .count())
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        digests: &[String],
    ) -> Result<(), StoreError> {
        let st = self.acct();
        // Row by row, not the partition: a partition tombstone written in the same millisecond
        // as the new rows could shadow them.
        let old: Vec<(String, Option<bool>)> =
            self.all_rows(&st.recovery_codes, (user_id,)).await?;
        for (digest, _) in old.iter().filter(|(d, _)| !digests.contains(d)) {
            self.exec(&st.drop_recovery_code, (user_id, digest)).await?;
        }
        for digest in digests {
            self.exec(&st.insert_recovery_code, (user_id, digest))
                .await?;
        }
        Ok(())
    }

    async fn disable(&self, user_id: &str) -> Result<bool, StoreError> {
        let st = self.acct();
        let existed = self.second_factor(user_id).await?.is_some();
        self.exec(&st.drop_recovery_codes, (user_id,)).await?;
        self.exec(&st.drop_second_factor, (user_id,)).await?;
        Ok(existed)
    }
}
