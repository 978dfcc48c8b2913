//! How published posts did, as data: one sample of a post's counters on one channel (platforms
//! report lifetime totals, so the newest sample of a post on a channel is its total), the sums
//! over posts, and the weekly times an account's own history says its posts do best.

use std::collections::HashMap;

use chrono::{Datelike, TimeZone, Timelike};
use serde::{Deserialize, Serialize};

/// A post's counters on one channel, as the platform reports them (lifetime totals).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Metrics {
    #[serde(default)]
    pub impressions: u64,
    #[serde(default)]
    pub reach: u64,
    /// Likes, reposts, replies, quotes, saves: every interaction the platform counts.
    #[serde(default)]
    pub engagements: u64,
    #[serde(default)]
    pub clicks: u64,
    #[serde(default)]
    pub followers_gained: i64,
}

impl Metrics {
    pub fn add(&mut self, o: &Metrics) {
        self.impressions += o.impressions;
        self.reach += o.reach;
        self.engagements += o.engagements;
        self.clicks += o.clicks;
        self.followers_gained += o.followers_gained;
    }

    /// Engagements per impression (0 without impressions).
    pub fn engagement_rate(&self) -> f64 {
        if self.impressions == 0 {
            0.0
        } else {
            self.engagements as f64 / self.impressions as f64
        }
    }
}

/// One reading of one published post on one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Sample {
    pub doc_id: String,
    pub account_id: String,
    pub channel_id: String,
    pub platform: String,
    /// When the post went out there (ms since the epoch).
    pub published_at: i64,
    /// When these counters were read.
    pub at: i64,
    pub metrics: Metrics,
    /// `poll` (creo asked the platform) or `webhook` (the team's service reported it).
    pub source: String,
}

/// Sums of the given posts' totals (one newest sample per post and channel each).
pub fn totals<'a>(latest: impl IntoIterator<Item = &'a Sample>) -> Metrics {
    let mut sum = Metrics::default();
    for s in latest {
        sum.add(&s.metrics);
    }
    sum
}

/// How sure a recommendation is, from how many of the account's posts stand behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// 3-4 posts.
    Low,
    /// 5-14 posts.
    Medium,
    /// 15 or more.
    High,
}

/// One recommended weekly time.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BestTime {
    /// `mon` … `sun`, in the zone asked for.
    pub day: String,
    /// The hour the posts went out in, 0-23.
    pub hour: u32,
    /// The account's posts published in that hour of that day.
    pub posts: usize,
    /// Their mean engagements per impression.
    pub engagement_rate: f64,
    /// That mean over the account's mean for all its posts (1.2: 20% better than usual).
    pub lift: f64,
    pub confidence: Confidence,
}

/// Fewest posts behind a recommended time.
pub const MIN_POSTS_PER_TIME: usize = 3;

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// The weekly times (day and hour in `zone`) the account's posts did best, best first, at most
/// `n`: its posts grouped by when they went out, each group's mean engagement rate, kept when
/// at least `MIN_POSTS_PER_TIME` posts stand behind it and it beats the account's own mean.
/// Posts without impressions say nothing about how people reacted and are left out.
pub fn best_times(latest: &[Sample], zone: chrono_tz::Tz, n: usize) -> Vec<BestTime> {
    let rated: Vec<(&Sample, f64)> = latest
        .iter()
        .filter(|s| s.metrics.impressions > 0)
        .map(|s| (s, s.metrics.engagement_rate()))
        .collect();
    if rated.is_empty() {
        return Vec::new();
    }
    let overall = rated.iter().map(|(_, r)| r).sum::<f64>() / rated.len() as f64;
    let mut groups: HashMap<(u32, u32), Vec<f64>> = HashMap::new();
    for (s, rate) in &rated {
        let Some(local) = zone.timestamp_millis_opt(s.published_at).single() else {
            continue;
        };
        groups
            .entry((local.weekday().num_days_from_monday(), local.hour()))
            .or_default()
            .push(*rate);
    }
    let mut best: Vec<BestTime> = groups
        .into_iter()
        .filter(|(_, rates)| rates.len() >= MIN_POSTS_PER_TIME)
        .map(|((day, hour), rates)| {
            let mean = rates.iter().sum::<f64>() / rates.len() as f64;
            BestTime {
                day: DAYS[day as usize].to_string(),
                hour,
                posts: rates.len(),
                engagement_rate: mean,
                lift: if overall > 0.0 { mean / overall } else { 0.0 },
                confidence: match rates.len() {
                    0..=4 => Confidence::Low,
                    5..=14 => Confidence::Medium,
                    _ => Confidence::High,
                },
            }
        })
        .filter(|b| b.lift > 1.0)
        .collect();
    best.sort_by(|a, b| {
        b.engagement_rate
            .total_cmp(&a.engagement_rate)
            .then(b.posts.cmp(&a.posts))
    });
    best.truncate(n);
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(published_at: &str, impressions: u64, engagements: u64) -> Sample {
        Sample {
            doc_id: published_at.into(),
            account_id: "a".into(),
            channel_id: "c".into(),
            platform: "x".into(),
            published_at: chrono::DateTime::parse_from_rfc3339(published_at)
                .unwrap()
                .timestamp_millis(),
            at: 0,
            metrics: Metrics {
                impressions,
                engagements,
                ..Metrics::default()
            },
            source: "poll".into(),
        }
    }

    #[test]
    fn the_best_times_are_the_accounts_own_best_hours_with_enough_posts_behind_them() {
        let mut history = Vec::new();
        // Tuesdays at 09:00 Paris (08:00 UTC in winter): 8% engagement, six posts.
        for day in [
            "2026-11-03",
            "2026-11-10",
            "2026-11-17",
            "2026-11-24",
            "2026-12-01",
            "2026-11-03",
        ] {
            history.push(sample(&format!("{day}T08:05:00Z"), 1000, 80));
        }
        // Fridays at 17:00 Paris: 2%, four posts.
        for day in ["2026-11-06", "2026-11-13", "2026-11-20", "2026-11-27"] {
            history.push(sample(&format!("{day}T16:10:00Z"), 1000, 20));
        }
        // Sunday at 12:00: 5%, only two posts; and one post with no impressions.
        history.push(sample("2026-11-08T11:00:00Z", 100, 5));
        history.push(sample("2026-11-15T11:00:00Z", 100, 5));
        history.push(sample("2026-11-22T11:00:00Z", 0, 0));
        let best = best_times(&history, chrono_tz::Europe::Paris, 5);
        assert_eq!(
            best.len(),
            1,
            "Friday is below the account's mean, Sunday has two posts: {best:?}"
        );
        let tuesday = &best[0];
        assert_eq!(
            (tuesday.day.as_str(), tuesday.hour, tuesday.posts),
            ("tue", 9, 6)
        );
        assert!((tuesday.engagement_rate - 0.08).abs() < 1e-9);
        assert!(tuesday.lift > 1.0);
        assert_eq!(tuesday.confidence, Confidence::Medium);
        let in_utc = best_times(&history, chrono_tz::UTC, 5);
        assert_eq!(in_utc[0].hour, 8, "the same posts, read in UTC");
        assert!(best_times(&[], chrono_tz::UTC, 5).is_empty());
    }

    #[test]
    fn totals_add_up_each_posts_newest_counters() {
        let a = sample("2026-11-03T08:00:00Z", 100, 5);
        let b = sample("2026-11-04T08:00:00Z", 50, 10);
        let t = totals([&a, &b]);
        assert_eq!((t.impressions, t.engagements), (150, 15));
        assert!((t.engagement_rate() - 0.1).abs() < 1e-9);
    }
}
