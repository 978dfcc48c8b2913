//! The hashtag vocabulary (`hashtags.txt`), embedded once per process with the embedding model
//! the first time a suggestion is asked for, then searched like documents, and filtered by
//! rules a person would apply: never a tag the post already has, never a tag tied to a date the
//! post does not name, never one the model finds only loosely related.

use std::time::Duration;

use tokio::sync::OnceCell;

use super::index::{AccountIndex, Hit};
use crate::gpu::{InferError, Input, Pool};

const HASHTAGS: &str = include_str!("hashtags.txt");

/// How much closer a tag counts when the post uses its word ("gym" for `#gym`): the small
/// embedding model scores single words against a post low, even when the post names them.
const NAMED_BONUS: f32 = 0.15;

/// One tag of the vocabulary, and the words a post must contain for it to be suggested (empty:
/// none needed).
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub tag: &'static str,
    pub requires: Vec<&'static str>,
}

#[derive(Default)]
pub struct Vocabulary {
    embedded: OnceCell<AccountIndex>,
}

impl Vocabulary {
    pub fn tags() -> impl Iterator<Item = Tag> {
        HASHTAGS
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with('#'))
            .map(|line| {
                let (tag, requires) = line.split_once('|').unwrap_or((line, ""));
                Tag {
                    tag: tag.trim(),
                    requires: requires
                        .split(',')
                        .map(str::trim)
                        .filter(|w| !w.is_empty())
                        .collect(),
                }
            })
    }

    /// At most `k` hashtags for the post `text` (embedded as `vector`), best first, each at
    /// least `min_score` close once the rules are applied (see `relevant`).
    pub async fn suggest(
        &self,
        pool: &Pool,
        model: &str,
        text: &str,
        vector: &[f32],
        k: usize,
        min_score: f32,
        timeout: Duration,
    ) -> Result<Vec<Hit>, InferError> {
        let index = self
            .embedded
            .get_or_try_init(|| async {
                // The bare word embeds better than with its '#'.
                let tags: Vec<Tag> = Self::tags().collect();
                let inputs = tags
                    .iter()
                    .map(|t| Input::Text(t.tag.trim_start_matches('#').to_string()))
                    .collect();
                let vectors = pool.infer(model, inputs, timeout * 4).await?;
                let mut index = AccountIndex::default();
                for (tag, v) in tags.iter().zip(vectors) {
                    index.upsert(tag.tag, &v.vector, "");
                }
                Ok::<_, InferError>(index)
            })
            .await?;
        let all = index.search(vector, index.len(), None);
        Ok(relevant(text, all, k, min_score))
    }
}

/// The lower-case words of a text.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Applies the rules to `hits` (every tag, scored by the model) and keeps the best `k`:
/// - a tag the post already has is not suggested again;
/// - a tag tied to a date needs the post to name it (a word, or a phrase, of `requires`);
/// - a tag whose word the post uses (alone or as a plural) counts `NAMED_BONUS` closer;
/// - what then scores below `min_score` is left out.
pub fn relevant(text: &str, hits: Vec<Hit>, k: usize, min_score: f32) -> Vec<Hit> {
    let words = words(text);
    let lower = format!(" {} ", words.join(" "));
    let has: Vec<String> = text
        .split_whitespace()
        .filter(|w| w.starts_with('#'))
        .map(|w| {
            w.trim_end_matches(|c: char| !c.is_alphanumeric())
                .to_lowercase()
        })
        .collect();
    let rules: std::collections::HashMap<&str, Tag> =
        Vocabulary::tags().map(|t| (t.tag, t)).collect();
    let mut out: Vec<Hit> = hits
        .into_iter()
        .filter(|h| !has.contains(&h.doc_id.to_lowercase()))
        .filter(|h| {
            rules.get(h.doc_id.as_str()).is_none_or(|t| {
                t.requires.is_empty()
                    || t.requires
                        .iter()
                        .any(|w| lower.contains(&format!(" {} ", words_of(w))))
            })
        })
        .map(|mut h| {
            let word = h.doc_id.trim_start_matches('#').to_lowercase();
            if words
                .iter()
                .any(|w| *w == word || *w == format!("{word}s") || word == format!("{w}s"))
            {
                h.score += NAMED_BONUS;
            }
            h
        })
        .filter(|h| h.score >= min_score)
        .collect();
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out.truncate(k);
    out
}

/// A phrase of `requires` as the space-joined words `relevant` compares with.
fn words_of(phrase: &str) -> String {
    words(phrase).join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(tag: &str, score: f32) -> Hit {
        Hit {
            doc_id: tag.into(),
            score,
        }
    }

    /// Scores the embedding model gave for a spring post (calibrated with all-MiniLM-L6-v2).
    fn spring() -> Vec<Hit> {
        vec![
            hit("#summer", 0.337),
            hit("#sale", 0.312),
            hit("#winter", 0.283),
            hit("#blackfriday", 0.268),
            hit("#fashion", 0.252),
            hit("#spring", 0.25),
            hit("#discount", 0.235),
            hit("#podcast", 0.12),
        ]
    }

    #[test]
    fn a_spring_post_gets_neither_other_seasons_nor_holidays_nor_its_own_tags() {
        let post = "Our spring collection is here. Light jackets for cool mornings. #sale";
        let tags: Vec<String> = relevant(post, spring(), 10, 0.22)
            .into_iter()
            .map(|h| h.doc_id)
            .collect();
        assert_eq!(tags, ["#spring", "#fashion", "#discount"]);
    }

    #[test]
    fn a_tag_the_post_names_counts_closer_and_loose_ones_are_dropped() {
        let post = "Our new bottle keeps drinks cold. Perfect for hikes and the gym.";
        let hits = vec![
            hit("#hiking", 0.311),
            hit("#gym", 0.211),
            hit("#coffee", 0.21),
            hit("#winter", 0.278),
        ];
        let tags: Vec<String> = relevant(post, hits, 10, 0.22)
            .into_iter()
            .map(|h| h.doc_id)
            .collect();
        assert_eq!(tags, ["#gym", "#hiking"]);
    }

    #[test]
    fn every_dated_tag_of_the_vocabulary_names_its_words() {
        let tags: Vec<Tag> = Vocabulary::tags().collect();
        assert!(tags.len() > 150);
        for season in ["#spring", "#summer", "#autumn", "#winter", "#christmas"] {
            let t = tags.iter().find(|t| t.tag == season).expect(season);
            assert!(!t.requires.is_empty(), "{season} is tied to a date");
        }
        let mut seen = std::collections::HashSet::new();
        assert!(tags.iter().all(|t| seen.insert(t.tag)), "no tag twice");
    }
}
