//! Documents' embeddings, what semantic search ranks by.

use async_trait::async_trait;

use super::StoreError;

/// A document's vector under one embedding model, and a hash of the text it was made from (so an
/// unchanged text is not embedded again).
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentEmbedding {
    pub account_id: String,
    pub doc_id: String,
    pub model: String,
    pub vector: Vec<f32>,
    pub text_hash: String,
    pub updated_at: i64,
}

impl DocumentEmbedding {
    /// Little-endian f32s, as stored.
    pub fn vector_bytes(&self) -> Vec<u8> {
        self.vector.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    pub fn vector_from_bytes(bytes: &[u8]) -> Vec<f32> {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    }
}

#[async_trait]
pub trait EmbeddingStore: Send + Sync + 'static {
    /// Stores a document's embedding (what semantic search ranks by), replacing the previous one.
    async fn put_embedding(&self, embedding: &DocumentEmbedding) -> Result<(), StoreError>;
    /// Forgets a document's embedding by `model`.
    async fn delete_embedding(
        &self,
        account_id: &str,
        model: &str,
        doc_id: &str,
    ) -> Result<(), StoreError>;
    /// Every stored embedding of an account's documents made by `model`.
    async fn embeddings(
        &self,
        account_id: &str,
        model: &str,
    ) -> Result<Vec<DocumentEmbedding>, StoreError>;
}
