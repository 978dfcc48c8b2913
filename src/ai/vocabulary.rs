//! The hashtag vocabulary (`hashtags.txt`), embedded once per process with the embedding model
//! the first time a suggestion is asked for, then searched like documents.

use std::time::Duration;

use tokio::sync::OnceCell;

use super::index::{AccountIndex, Hit};
use crate::gpu::{InferError, Input, Pool};

const HASHTAGS: &str = include_str!("hashtags.txt");

#[derive(Default)]
pub struct Vocabulary {
    embedded: OnceCell<AccountIndex>,
}

impl Vocabulary {
    pub fn tags() -> impl Iterator<Item = &'static str> {
        HASHTAGS
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('#'))
    }

    /// The `k` hashtags closest to `vector`.
    pub async fn nearest(
        &self,
        pool: &Pool,
        model: &str,
        vector: &[f32],
        k: usize,
        timeout: Duration,
    ) -> Result<Vec<Hit>, InferError> {
        let index = self
            .embedded
            .get_or_try_init(|| async {
                // The tag read as words ("#mondaymotivation" → "monday motivation" is beyond a
                // tokenizer; the bare word embeds better than with its '#').
                let tags: Vec<&str> = Self::tags().collect();
                let inputs = tags
                    .iter()
                    .map(|t| Input::Text(t.trim_start_matches('#').to_string()))
                    .collect();
                let vectors = pool.infer(model, inputs, timeout * 4).await?;
                let mut index = AccountIndex::default();
                for (tag, v) in tags.iter().zip(vectors) {
                    index.upsert(tag, &v.vector, "");
                }
                Ok::<_, InferError>(index)
            })
            .await?;
        Ok(index.search(vector, k, None))
    }
}
