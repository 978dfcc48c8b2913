//! A person's second factor and recovery codes. Every change is a conditional write in the
//! writer's transaction, so two nodes sharing the file never both accept one code.

use async_trait::async_trait;
use rusqlite::params;

use super::account_rows::*;
use super::*;
use creo_store::mfa::*;

#[async_trait]
impl MfaStore for EmbeddedStore {
    async fn second_factor(&self, user_id: &str) -> Result<Option<SecondFactor>, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            one(
                c,
                "SELECT user_id, sealed_secret, enabled_at, last_step FROM second_factors
                 WHERE user_id = ?1",
                params![id],
                |r| {
                    Ok(SecondFactor {
                        user_id: r.get(0)?,
                        sealed_secret: r.get(1)?,
                        enabled_at: r.get(2)?,
                        last_step: r.get(3)?,
                    })
                },
            )
        })
        .await
    }

    async fn begin_enrolment(
        &self,
        user_id: &str,
        sealed_secret: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (id, sealed) = (user_id.to_string(), sealed_secret.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "INSERT INTO second_factors (user_id, sealed_secret, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user_id) DO UPDATE SET sealed_secret = ?2, created_at = ?3
                 WHERE enabled_at IS NULL",
                params![id, sealed, now],
            )
            .map(|n| n > 0)
        })
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
        let (id, sealed) = (user_id.to_string(), sealed_secret.to_string());
        let digests = recovery_digests.to_vec();
        self.transaction(move |c| {
            let n = exec(
                c,
                "UPDATE second_factors SET enabled_at = ?3, last_step = ?4
                 WHERE user_id = ?1 AND sealed_secret = ?2 AND enabled_at IS NULL",
                params![id, sealed, now, step],
            )?;
            if n == 0 {
                return Ok(false);
            }
            put_codes(c, &id, &digests)?;
            Ok(true)
        })
        .await
    }

    async fn use_step(&self, user_id: &str, step: i64) -> Result<bool, StoreError> {
        let id = user_id.to_string();
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE second_factors SET last_step = ?2
                 WHERE user_id = ?1 AND enabled_at IS NOT NULL AND last_step < ?2",
                params![id, step],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn spend_recovery_code(
        &self,
        user_id: &str,
        digest: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let (id, digest) = (user_id.to_string(), digest.to_string());
        self.transaction(move |c| {
            exec(
                c,
                "UPDATE recovery_codes SET spent_at = ?3
                 WHERE user_id = ?1 AND digest = ?2 AND spent_at IS NULL",
                params![id, digest, now],
            )
            .map(|n| n > 0)
        })
        .await
    }

    async fn recovery_codes_left(&self, user_id: &str) -> Result<usize, StoreError> {
        let id = user_id.to_string();
        self.read(move |c| {
            one(
                c,
                "SELECT COUNT(*) FROM recovery_codes WHERE user_id = ?1 AND spent_at IS NULL",
                params![id],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.unwrap_or(0) as usize)
        })
        .await
    }

    async fn replace_recovery_codes(
        &self,
        user_id: &str,
        digests: &[String],
    ) -> Result<(), StoreError> {
        let (id, digests) = (user_id.to_string(), digests.to_vec());
        self.transaction(move |c| put_codes(c, &id, &digests)).await
    }

    async fn disable(&self, user_id: &str) -> Result<bool, StoreError> {
        let id = user_id.to_string();
        self.transaction(move |c| {
            exec(
                c,
                "DELETE FROM recovery_codes WHERE user_id = ?1",
                params![id],
            )?;
            exec(
                c,
                "DELETE FROM second_factors WHERE user_id = ?1",
                params![id],
            )
            .map(|n| n > 0)
        })
        .await
    }
}

/// The user's recovery codes become exactly `digests`, none spent.
fn put_codes(
    c: &rusqlite::Connection,
    user_id: &str,
    digests: &[String],
) -> Result<(), StoreError> {
    exec(
        c,
        "DELETE FROM recovery_codes WHERE user_id = ?1",
        params![user_id],
    )?;
    for digest in digests {
        exec(
            c,
            "INSERT INTO recovery_codes (user_id, digest) VALUES (?1, ?2)",
            params![user_id, digest],
        )?;
    }
    Ok(())
}
