//! Named and automatic versions of a document.

use scylla::value::CqlTimestamp;

use super::workflow_rows::{VersionMeta, VersionRow};
use super::*;
use creo_store::versions::*;

#[async_trait]
impl VersionStore for ScyllaStore {
    async fn put_version(&self, v: &creo_core::versions::Version) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(
                &self.workflow.put_version,
                (
                    &v.doc_id,
                    &v.version_id,
                    &v.name,
                    v.automatic,
                    &v.created_by,
                    CqlTimestamp(v.created_at),
                    &v.changed_by,
                    &v.state,
                ),
            )
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    async fn delete_version(&self, doc_id: &str, version_id: &str) -> Result<(), StoreError> {
        self.session
            .execute_unpaged(&self.workflow.drop_version, (doc_id, version_id))
            .await
            .map(|_| ())
            .map_err(unavailable)
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

impl ScyllaStore {
    async fn read_versions(
        &self,
        doc_id: &str,
        one: Option<&str>,
    ) -> Result<Vec<creo_core::versions::Version>, StoreError> {
        let to_version = |m: VersionMeta, state: Vec<u8>| creo_core::versions::Version {
            doc_id: m.0,
            version_id: m.1,
            name: m.2,
            automatic: m.3,
            created_by: m.4,
            created_at: m.5 .0,
            changed_by: m.6.unwrap_or_default(),
            state,
        };
        let mut out: Vec<creo_core::versions::Version> = match one {
            Some(id) => {
                let rows: Vec<VersionRow> =
                    self.all_rows(&self.workflow.version, (doc_id, id)).await?;
                rows.into_iter()
                    .map(|r| to_version((r.0, r.1, r.2, r.3, r.4, r.5, r.6), r.7))
                    .collect()
            }
            None => {
                let rows: Vec<VersionMeta> =
                    self.all_rows(&self.workflow.versions, (doc_id,)).await?;
                rows.into_iter()
                    .map(|m| to_version(m, Vec::new()))
                    .collect()
            }
        };
        out.sort_by(|a, b| (a.created_at, &a.version_id).cmp(&(b.created_at, &b.version_id)));
        Ok(out)
    }
}
