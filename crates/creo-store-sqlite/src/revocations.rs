//! Access revocations: who may no longer open an account's documents.

use super::*;
use creo_store::revocations::*;

#[async_trait]
impl RevocationStore for EmbeddedStore {
    async fn revoke(&self, revocation: &Revocation) -> Result<(), StoreError> {
        let revocation = revocation.clone();
        self.write(|reply| WriteOp::Revoke { revocation, reply })
            .await
    }

    async fn lift_revocation(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (account_id, user_id) = (account_id.to_string(), user_id.to_string());
        let scope = revocation_scope(doc_id).to_string();
        self.write(|reply| WriteOp::Lift {
            account_id,
            user_id,
            scope,
            reply,
        })
        .await
    }

    async fn revocations(&self, account_id: &str) -> Result<Vec<Revocation>, StoreError> {
        let account_id = account_id.to_string();
        self.read(move |conn| read_revocations(conn, &account_id))
            .await
    }

    async fn is_revoked(
        &self,
        account_id: &str,
        user_id: &str,
        doc_id: &str,
    ) -> Result<bool, StoreError> {
        let (a, u, d) = (
            account_id.to_string(),
            user_id.to_string(),
            doc_id.to_string(),
        );
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT 1 FROM access_revocations
                 WHERE account_id = ?1 AND user_id = ?2 AND scope IN (?3, ?4) LIMIT 1",
            )
            .and_then(|mut s| s.exists(params![a, u, d, WHOLE_ACCOUNT]))
            .map_err(unavailable)
        })
        .await
    }
}
