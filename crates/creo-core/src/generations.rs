//! AI generation (the four-sample flow): a request reserves credits for four variations of a
//! document's post, a job produces them through the inference pool, the editors see them live,
//! one can be selected into the document, and only the variations that succeeded are paid for.
//!
//! The models this deployment can load are encoders (a sentence-embedding model), not language
//! models, so a variation is built from the post itself: its sentences reordered or cut to the
//! ones the model finds most representative of the whole, and hashtags the model finds closest
//! in meaning. The model embeds each variation to score how faithful it stays to the original;
//! a variation the model could not score is reported as failed and not charged. A generative
//! model would replace `candidates` and keep everything else (reservation, job, events,
//! selection).

use serde::{Deserialize, Serialize};

/// Variations per generation (the seed's four samples).
pub const VARIATIONS: usize = 4;

/// The length a short variation aims for (X's limit: the tightest of the platforms).
pub const SHORT_CHARS: usize = 280;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Generation {
    pub generation_id: String,
    pub doc_id: String,
    pub account_id: String,
    pub requested_by: String,
    /// The text field varied (default `post`).
    pub field: String,
    pub status: Status,
    /// The credits held for it (none for accounts that are not billed here).
    pub reservation_id: Option<String>,
    /// The price of one variation, milli-credits.
    pub price_milli: i64,
    /// What was captured: `price_milli` per variation that succeeded.
    pub charged_milli: i64,
    pub variations: Vec<Variation>,
    /// The variation written into the document, if one was.
    pub selected: Option<usize>,
    pub error: Option<String>,
    pub created_at: i64,
    pub completed_at: Option<i64>,
    /// When the variations nobody chose were dropped (retention), if they were.
    #[serde(default)]
    pub pruned_at: Option<i64>,
}

impl Generation {
    /// Keeps only the chosen variation (none when none was), as retention asks.
    pub fn prune(&mut self, now: i64) {
        let chosen = self.selected;
        self.variations.retain(|v| Some(v.index) == chosen);
        self.pruned_at = Some(now);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Variation {
    pub index: usize,
    /// `lead` (the most representative sentence first), `short` (the most representative
    /// sentences within 280 characters), `hashtags` (the post with the hashtags closest in
    /// meaning), `short_hashtags`.
    pub style: String,
    pub text: String,
    /// Cosine similarity of the variation to the original post (how faithful it is); `None`
    /// when the model could not score it (then `error` says why and it is not charged).
    pub similarity: Option<f32>,
    pub error: Option<String>,
}

impl Variation {
    pub fn succeeded(&self) -> bool {
        self.similarity.is_some()
    }

    /// The style as the editor names it.
    pub fn label(&self) -> &str {
        match self.style.as_str() {
            "lead" => "Strongest sentence first",
            "short" => "Short",
            "hashtags" => "With hashtags",
            "short_hashtags" => "Short, with hashtags",
            other => other,
        }
    }
}

/// A post split into its sentences and its hashtags.
#[derive(Debug, Clone, PartialEq)]
pub struct Parts {
    pub sentences: Vec<String>,
    pub hashtags: Vec<String>,
}

pub fn split(text: &str) -> Parts {
    let mut hashtags = Vec::new();
    let mut body = String::new();
    for word in text.split_inclusive(char::is_whitespace) {
        let bare = word.trim();
        if bare.starts_with('#') && bare.chars().nth(1).is_some_and(char::is_alphanumeric) {
            hashtags.push(bare.to_string());
        } else {
            body.push_str(word);
        }
    }
    let mut sentences = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = body.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        current.push(*c);
        let ends = matches!(c, '.' | '!' | '?' | '\n')
            && chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        if ends {
            push_sentence(&mut sentences, &current);
            current.clear();
        }
    }
    push_sentence(&mut sentences, &current);
    Parts {
        sentences,
        hashtags,
    }
}

fn push_sentence(out: &mut Vec<String>, s: &str) {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if !s.is_empty() {
        out.push(s);
    }
}

fn join(sentences: &[&String], tags: &[String]) -> String {
    let body = sentences
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if tags.is_empty() {
        body
    } else if body.is_empty() {
        tags.join(" ")
    } else {
        format!("{body}\n\n{}", tags.join(" "))
    }
}

/// The four candidate texts, in the order of `Variation::style`.
/// `rank[i]`: how representative sentence `i` is of the whole post (higher is more);
/// `suggested`: hashtags closest in meaning, best first (the post's own are left out).
pub fn candidates(parts: &Parts, rank: &[f32], suggested: &[String]) -> Vec<(String, String)> {
    let n = parts.sentences.len();
    let mut by_rank: Vec<usize> = (0..n).collect();
    by_rank.sort_by(|a, b| {
        let (ra, rb) = (rank.get(*a).copied(), rank.get(*b).copied());
        rb.partial_cmp(&ra)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(b))
    });
    let all: Vec<&String> = parts.sentences.iter().collect();
    // lead: the most representative sentence first, the others in their order.
    let mut lead: Vec<&String> = Vec::with_capacity(n);
    if let Some(first) = by_rank.first() {
        lead.push(&parts.sentences[*first]);
        lead.extend(
            all.iter()
                .enumerate()
                .filter(|(i, _)| i != first)
                .map(|(_, s)| *s),
        );
    }
    let new_tags: Vec<String> = suggested
        .iter()
        .filter(|t| !parts.hashtags.iter().any(|o| o.eq_ignore_ascii_case(t)))
        .cloned()
        .collect();
    // A short variation is short for this post too: at most 60% of its sentences' length.
    let whole: usize = parts.sentences.iter().map(|s| s.chars().count() + 1).sum();
    let short = |tags: &[String]| {
        let budget = SHORT_CHARS
            .min(whole * 3 / 5)
            .saturating_sub(tags.iter().map(|t| t.chars().count() + 1).sum::<usize>() + 1);
        let mut keep = Vec::new();
        let mut used = 0;
        for i in &by_rank {
            let len = parts.sentences[*i].chars().count() + 1;
            if used + len <= budget || keep.is_empty() {
                keep.push(*i);
                used += len;
            }
        }
        keep.sort_unstable();
        let chosen: Vec<&String> = keep.iter().map(|i| &parts.sentences[*i]).collect();
        let mut text = join(&chosen, tags);
        if text.chars().count() > SHORT_CHARS {
            text = text.chars().take(SHORT_CHARS - 1).collect::<String>() + "…";
        }
        text
    };
    let three: Vec<String> = new_tags.iter().take(3).cloned().collect();
    let two: Vec<String> = new_tags.iter().take(2).cloned().collect();
    let with_new = |base: &[String]| {
        let mut tags = parts.hashtags.clone();
        tags.extend(base.iter().cloned());
        tags
    };
    vec![
        ("lead".into(), join(&lead, &parts.hashtags)),
        ("short".into(), short(&parts.hashtags)),
        ("hashtags".into(), join(&all, &with_new(&three))),
        ("short_hashtags".into(), short(&two)),
    ]
}

/// The brand kit's hashtags, then the suggested ones they do not already name.
pub fn brand_first(brand: &[String], suggested: Vec<String>) -> Vec<String> {
    let mut all: Vec<String> = brand.to_vec();
    for tag in suggested {
        if !all.iter().any(|t| t.eq_ignore_ascii_case(&tag)) {
            all.push(tag);
        }
    }
    all
}

/// Whether two texts have the same words in the same order (spacing and line breaks aside).
pub fn same_words(a: &str, b: &str) -> bool {
    a.split_whitespace().eq(b.split_whitespace())
}

/// Cosine similarity of two L2-normalised vectors.
pub fn similarity(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &str = "Our autumn menu is here! Pumpkin soup, roasted chestnuts and warm cider. \
                        Come by this weekend. #autumn #food";

    #[test]
    fn a_post_splits_into_sentences_and_hashtags() {
        let p = split(POST);
        assert_eq!(
            p.sentences,
            [
                "Our autumn menu is here!",
                "Pumpkin soup, roasted chestnuts and warm cider.",
                "Come by this weekend."
            ]
        );
        assert_eq!(p.hashtags, ["#autumn", "#food"]);
        assert_eq!(split("v1.2 is out").sentences, ["v1.2 is out"]);
    }

    #[test]
    fn four_distinct_variations_from_the_ranking_and_the_hashtags() {
        let p = split(POST);
        let out = candidates(
            &p,
            &[0.2, 0.9, 0.1],
            &["#food".into(), "#fall".into(), "#cider".into()],
        );
        assert_eq!(out.len(), VARIATIONS);
        assert!(out[0].1.starts_with("Pumpkin soup"), "{}", out[0].1);
        assert!(
            out[2].1.ends_with("#autumn #food #fall #cider"),
            "{}",
            out[2].1
        );
        assert!(
            !out[2].1.contains("#food #food"),
            "the post's own tags are not repeated"
        );
        assert!(out[3].1.contains("#fall #cider"), "{}", out[3].1);
    }

    #[test]
    fn the_brands_hashtags_come_first_and_once() {
        let brand = vec!["#creo".to_string()];
        let all = brand_first(&brand, vec!["#Creo".into(), "#spring".into()]);
        assert_eq!(all, ["#creo", "#spring"]);
        let parts = split("Spring is here. The new range lands today.");
        let c = candidates(&parts, &[1.0, 0.5], &all);
        assert!(c[2].1.ends_with("#creo #spring"), "{}", c[2].1);
        assert!(c[3].1.contains("#creo"), "{}", c[3].1);
    }

    #[test]
    fn a_short_variation_of_a_post_that_already_fits_is_still_shorter() {
        let p = split(POST);
        let out = candidates(&p, &[0.2, 0.9, 0.1], &[]);
        let short = &out[1].1;
        assert!(
            short.chars().count() < POST.chars().count() && !same_words(short, POST),
            "{short}"
        );
        assert!(
            short.contains("Pumpkin soup"),
            "keeps the best sentence: {short}"
        );
        // One sentence cannot be cut: that variation is the post itself, which the job
        // does not offer.
        let one = split("Fresh bread every morning.");
        assert!(same_words(
            &candidates(&one, &[1.0], &[])[1].1,
            "Fresh bread every morning."
        ));
    }

    #[test]
    fn short_variations_keep_the_best_sentences_within_the_limit() {
        let long: String = (0..30)
            .map(|i| format!("Sentence number {i} says something. "))
            .collect();
        let p = split(&long);
        let mut rank = vec![0.0; p.sentences.len()];
        rank[7] = 1.0;
        let out = candidates(&p, &rank, &["#x".into(), "#y".into()]);
        for (style, text) in &out[1..] {
            if style.starts_with("short") {
                assert!(
                    text.chars().count() <= SHORT_CHARS,
                    "{style}: {}",
                    text.len()
                );
                assert!(
                    text.contains("number 7 "),
                    "{style} keeps the best sentence"
                );
            }
        }
        assert!(out[3].1.ends_with("#x #y"), "{}", out[3].1);
    }
}
