//! The semantic search index of this node: per account, the unit vectors of its documents in one
//! contiguous matrix, searched exactly (a dot product per document, then a top-k). Exact search
//! over 100,000 documents of 384 dimensions is 38 million multiply-adds: a few milliseconds on
//! one core (BENCHMARKS.md), with no approximation to tune. An account's index is loaded from
//! the store on first use and reloaded when older than `search_refresh_ms` (documents indexed on
//! other nodes), and kept current on this node as its own documents are re-embedded.

use std::cmp::Ordering as CmpOrdering;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::RwLock;

use crate::store::{DocumentEmbedding, EmbeddingStore, StoreError};

#[derive(Default)]
pub struct AccountIndex {
    dims: usize,
    ids: Vec<String>,
    hashes: Vec<String>,
    position: HashMap<String, usize>,
    vectors: Vec<f32>,
    loaded_at: Option<Instant>,
}

/// A document and how close it is (cosine similarity, -1 to 1).
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Hit {
    pub doc_id: String,
    pub score: f32,
}

struct Ranked(f32, usize);

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl Eq for Ranked {}
impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<CmpOrdering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked {
    // Reversed: the heap keeps the k best by popping the worst.
    fn cmp(&self, other: &Self) -> CmpOrdering {
        other.0.total_cmp(&self.0)
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight independent sums: lets the compiler vectorise the loop.
    let mut acc = [0f32; 8];
    let chunks = a.len() / 8 * 8;
    for (x, y) in a[..chunks].chunks_exact(8).zip(b[..chunks].chunks_exact(8)) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = a[chunks..]
        .iter()
        .zip(&b[chunks..])
        .map(|(x, y)| x * y)
        .sum();
    acc.iter().sum::<f32>() + tail
}

impl AccountIndex {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn upsert(&mut self, doc_id: &str, vector: &[f32], text_hash: &str) {
        if self.dims == 0 {
            self.dims = vector.len();
        }
        if vector.len() != self.dims {
            return; // another model's vector; the index holds one model's
        }
        match self.position.get(doc_id) {
            Some(&i) => {
                self.vectors[i * self.dims..(i + 1) * self.dims].copy_from_slice(vector);
                self.hashes[i] = text_hash.to_string();
            }
            None => {
                self.position.insert(doc_id.to_string(), self.ids.len());
                self.ids.push(doc_id.to_string());
                self.hashes.push(text_hash.to_string());
                self.vectors.extend_from_slice(vector);
            }
        }
    }

    /// Takes a document out (the last row moves into its place).
    pub fn remove(&mut self, doc_id: &str) {
        let Some(i) = self.position.remove(doc_id) else {
            return;
        };
        let last = self.ids.len() - 1;
        if i != last {
            let moved = self.ids[last].clone();
            self.vectors
                .copy_within(last * self.dims..(last + 1) * self.dims, i * self.dims);
            self.ids.swap(i, last);
            self.hashes.swap(i, last);
            self.position.insert(moved, i);
        }
        self.ids.pop();
        self.hashes.pop();
        self.vectors.truncate(last * self.dims);
    }

    pub fn vector(&self, doc_id: &str) -> Option<&[f32]> {
        let i = *self.position.get(doc_id)?;
        Some(&self.vectors[i * self.dims..(i + 1) * self.dims])
    }

    pub fn text_hash(&self, doc_id: &str) -> Option<&str> {
        self.position.get(doc_id).map(|&i| self.hashes[i].as_str())
    }

    /// The `k` documents closest to `query`, best first, leaving out `exclude`.
    pub fn search(&self, query: &[f32], k: usize, exclude: Option<&str>) -> Vec<Hit> {
        if query.len() != self.dims || k == 0 {
            return Vec::new();
        }
        let skip = exclude.and_then(|d| self.position.get(d).copied());
        let mut best = BinaryHeap::with_capacity(k + 1);
        for (i, row) in self.vectors.chunks_exact(self.dims).enumerate() {
            if Some(i) == skip {
                continue;
            }
            best.push(Ranked(dot(query, row), i));
            if best.len() > k {
                best.pop();
            }
        }
        let mut hits: Vec<Hit> = best
            .into_iter()
            .map(|Ranked(score, i)| Hit {
                doc_id: self.ids[i].clone(),
                score,
            })
            .collect();
        hits.sort_by(|a, b| b.score.total_cmp(&a.score));
        hits
    }
}

/// Every account's index on this node.
pub struct SearchIndex {
    accounts: Mutex<HashMap<String, Arc<RwLock<AccountIndex>>>>,
    store: Arc<dyn EmbeddingStore>,
    model: String,
    refresh: Duration,
}

impl SearchIndex {
    pub fn new(store: Arc<dyn EmbeddingStore>, model: String, refresh: Duration) -> SearchIndex {
        SearchIndex {
            accounts: Mutex::new(HashMap::new()),
            store,
            model,
            refresh,
        }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// The account's index, loaded (or reloaded when stale) from the store first.
    pub async fn account(&self, account_id: &str) -> Result<Arc<RwLock<AccountIndex>>, StoreError> {
        let index = self
            .accounts
            .lock()
            .expect("index lock")
            .entry(account_id.to_string())
            .or_default()
            .clone();
        let stale = index
            .read()
            .await
            .loaded_at
            .is_none_or(|t| t.elapsed() > self.refresh);
        if stale {
            let mut guard = index.write().await;
            // Another request may have loaded it while this one waited for the lock.
            if guard.loaded_at.is_none_or(|t| t.elapsed() > self.refresh) {
                let stored = self.store.embeddings(account_id, &self.model).await?;
                let mut fresh = AccountIndex::default();
                for e in &stored {
                    fresh.upsert(&e.doc_id, &e.vector, &e.text_hash);
                }
                fresh.loaded_at = Some(Instant::now());
                metrics::gauge!("creo_search_index_documents").set(fresh.len() as f64);
                *guard = fresh;
            }
        }
        Ok(index)
    }

    /// Forgets a deleted document: its stored embedding and its place in the account's index.
    pub async fn forget(&self, account_id: &str, doc_id: &str) -> Result<(), StoreError> {
        self.store
            .delete_embedding(account_id, &self.model, doc_id)
            .await?;
        self.account(account_id).await?.write().await.remove(doc_id);
        Ok(())
    }

    /// Stores and indexes a document's new embedding.
    pub async fn put(&self, embedding: DocumentEmbedding) -> Result<(), StoreError> {
        self.store.put_embedding(&embedding).await?;
        let index = self.account(&embedding.account_id).await?;
        index
            .write()
            .await
            .upsert(&embedding.doc_id, &embedding.vector, &embedding.text_hash);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = dot(v, v).sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn a_removed_document_is_never_found_and_the_others_keep_their_vectors() {
        let mut index = AccountIndex::default();
        index.upsert("a", &unit(&[1.0, 0.0, 0.0]), "ha");
        index.upsert("b", &unit(&[0.0, 1.0, 0.0]), "hb");
        index.upsert("c", &unit(&[0.0, 0.0, 1.0]), "hc");
        index.remove("a");
        index.remove("nothing");
        assert_eq!(index.len(), 2);
        let hits = index.search(&unit(&[1.0, 0.1, 0.0]), 3, None);
        assert!(hits.iter().all(|h| h.doc_id != "a"));
        assert_eq!(index.vector("c"), Some(&unit(&[0.0, 0.0, 1.0])[..]));
        assert_eq!(index.text_hash("b"), Some("hb"));
    }

    #[test]
    fn search_ranks_by_cosine_and_updates_in_place() {
        let mut index = AccountIndex::default();
        index.upsert("east", &unit(&[1.0, 0.0, 0.0]), "h1");
        index.upsert("north", &unit(&[0.0, 1.0, 0.0]), "h2");
        index.upsert("northeast", &unit(&[1.0, 1.0, 0.0]), "h3");
        let hits = index.search(&unit(&[1.0, 0.2, 0.0]), 2, None);
        assert_eq!(
            hits.iter().map(|h| h.doc_id.as_str()).collect::<Vec<_>>(),
            ["east", "northeast"]
        );
        assert!(hits[0].score > hits[1].score);
        let hits = index.search(&unit(&[1.0, 0.2, 0.0]), 5, Some("east"));
        assert_eq!(hits[0].doc_id, "northeast");
        index.upsert("east", &unit(&[0.0, 0.0, 1.0]), "h4");
        assert_eq!(index.len(), 3);
        assert_eq!(index.text_hash("east"), Some("h4"));
        assert_eq!(
            index.search(&unit(&[0.0, 0.0, 1.0]), 1, None)[0].doc_id,
            "east"
        );
    }

    #[test]
    fn dot_matches_the_plain_sum_for_any_length() {
        for n in [1, 7, 8, 9, 384] {
            let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
            let b: Vec<f32> = (0..n).map(|i| 1.0 - i as f32 * 0.25).collect();
            let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!(
                (dot(&a, &b) - plain).abs() < 1e-3 * plain.abs().max(1.0),
                "{n}"
            );
        }
    }
}
