//! Named and automatic versions of a document.

use rusqlite::params;

use super::*;
use creo_store::versions::*;

#[async_trait]
impl VersionStore for EmbeddedStore {
    async fn put_version(&self, v: &creo_core::versions::Version) -> Result<(), StoreError> {
        let v = v.clone();
        self.transaction(move |conn| {
            conn.execute(
                "INSERT OR REPLACE INTO document_versions
                 (doc_id, version_id, name, automatic, created_by, created_at, changed_by, state)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    v.doc_id,
                    v.version_id,
                    v.name,
                    v.automatic,
                    v.created_by,
                    v.created_at,
                    v.changed_by.join(" "),
                    v.state
                ],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn delete_version(&self, doc_id: &str, version_id: &str) -> Result<(), StoreError> {
        let (doc_id, version_id) = (doc_id.to_string(), version_id.to_string());
        self.transaction(move |conn| {
            conn.execute(
                "DELETE FROM document_versions WHERE doc_id = ?1 AND version_id = ?2",
                params![doc_id, version_id],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }

    async fn versions(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::versions::Version>, StoreError> {
        self.read_versions(doc_id, None).await
    }

    async fn version(
        &self,
        doc_id: &str,
        version_id: &str,
    ) -> Result<Option<creo_core::versions::Version>, StoreError> {
        Ok(self.read_versions(doc_id, Some(version_id)).await?.pop())
    }
}

impl EmbeddedStore {
    /// The document's versions, with their states only when `one` names a version.
    async fn read_versions(
        &self,
        doc_id: &str,
        one: Option<&str>,
    ) -> Result<Vec<creo_core::versions::Version>, StoreError> {
        let (id, one) = (doc_id.to_string(), one.map(str::to_string));
        self.read(move |conn| {
            let state = if one.is_some() { "state" } else { "x''" };
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT doc_id, version_id, name, automatic, created_by, created_at, changed_by, {state}
                     FROM document_versions WHERE doc_id = ?1 AND (?2 IS NULL OR version_id = ?2)
                     ORDER BY created_at, version_id"
                ))
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![id, one], |r| {
                    let changed_by: String = r.get(6)?;
                    Ok(creo_core::versions::Version {
                        doc_id: r.get(0)?,
                        version_id: r.get(1)?,
                        name: r.get(2)?,
                        automatic: r.get(3)?,
                        created_by: r.get(4)?,
                        created_at: r.get(5)?,
                        changed_by: changed_by.split_whitespace().map(str::to_string).collect(),
                        state: r.get(7)?,
                    })
                })
                .map_err(unavailable)?;
            rows.collect::<Result<_, _>>().map_err(unavailable)
        })
        .await
    }
}
