//! Comment threads anchored in a document.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait CommentStore: Send + Sync + 'static {
    /// Adds or replaces a comment (a resolved thread replaces its first comment).
    async fn put_comment(&self, comment: &creo_core::comments::Comment) -> Result<(), StoreError>;
    /// The document's comments, oldest first.
    async fn comments(&self, doc_id: &str)
        -> Result<Vec<creo_core::comments::Comment>, StoreError>;
}
