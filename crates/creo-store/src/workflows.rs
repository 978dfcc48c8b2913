//! A document's review workflow, its transitions, and an account's approval rule.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait WorkflowStore: Send + Sync + 'static {
    /// The document's workflow; `None` while it never left draft.
    async fn workflow(
        &self,
        doc_id: &str,
    ) -> Result<Option<creo_core::workflow::Workflow>, StoreError>;
    /// Records a transition if the workflow is still at `next.version - 1` (`false`: someone
    /// else moved it first; read it again).
    async fn transition(
        &self,
        next: &creo_core::workflow::Workflow,
        record: &creo_core::workflow::Transition,
    ) -> Result<bool, StoreError>;
    /// The document's transitions, oldest first.
    async fn transitions(
        &self,
        doc_id: &str,
    ) -> Result<Vec<creo_core::workflow::Transition>, StoreError>;
    /// The account's posts with a time in `[from, to)` (scheduled, published or failed), by
    /// time, at most `limit`: its calendar.
    async fn calendar(
        &self,
        account_id: &str,
        from: i64,
        to: i64,
        limit: usize,
    ) -> Result<Vec<creo_core::workflow::Workflow>, StoreError>;
    /// Keeps (or replaces) how a post repeats.
    async fn put_recurrence(
        &self,
        recurrence: &creo_core::recurrence::Recurrence,
    ) -> Result<(), StoreError>;
    async fn recurrence(
        &self,
        doc_id: &str,
    ) -> Result<Option<creo_core::recurrence::Recurrence>, StoreError>;
    /// Stops a post repeating.
    async fn delete_recurrence(&self, doc_id: &str) -> Result<(), StoreError>;
    /// Approvals an account requires before a document is approved (`None`: the default).
    async fn required_approvals(&self, account_id: &str) -> Result<Option<u32>, StoreError>;
    async fn set_required_approvals(&self, account_id: &str, n: u32) -> Result<(), StoreError>;
}
