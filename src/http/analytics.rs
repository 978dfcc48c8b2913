//! How published posts did, over REST (rules in `creo_core::analytics`): a post's metrics per
//! channel with their time series, an account's totals over a window, the weekly times its own
//! history recommends, and the signed webhook a team's service reports a webhook channel's
//! metrics through (platforms creo reads itself are polled by `jobs/collect.rs`).

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::extract::{AccountCaller, DocumentCaller};
use super::ApiError;
use crate::analytics::{BestTime, Metrics, Sample};
use crate::app::AppState;
use crate::channels::TargetState;
use crate::http::Code;
use crate::store::now_ms;

/// The widest window an account's analytics read, and the history best times read.
const WINDOW_DAYS: i64 = 92;
const BEST_TIMES_DAYS: i64 = 90;
/// Most posts one analytics answer reads.
const MAX_POSTS: usize = 5_000;
/// Most samples a post's series lists.
const MAX_SAMPLES: usize = 2_000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelMetrics {
    pub channel_id: String,
    pub platform: String,
    pub post_id: String,
    pub permalink: Option<String>,
    /// The newest counters, and when they were read (absent before the first reading).
    pub metrics: Option<Metrics>,
    pub read_at: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DocumentAnalytics {
    pub channels: Vec<ChannelMetrics>,
    /// Sums of every channel's newest counters.
    pub totals: Metrics,
    /// Every reading, oldest first: the series a chart draws.
    pub series: Vec<Sample>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Window {
    /// Posts published from (RFC 3339, inclusive)…
    pub from: String,
    /// …to (exclusive); at most 92 days.
    pub to: String,
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ChannelTotals {
    pub channel_id: String,
    pub platform: String,
    pub posts: usize,
    pub totals: Metrics,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountAnalytics {
    /// Posts published in the window with at least one reading.
    pub posts: usize,
    pub totals: Metrics,
    pub engagement_rate: f64,
    pub by_channel: Vec<ChannelTotals>,
    /// The ten readings with the most engagements (a post on one channel each).
    pub top_posts: Vec<Sample>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BestTimesQuery {
    /// IANA time zone the days and hours are given in (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub channel: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BestTimes {
    /// How many of the account's posts (with impressions) the recommendation rests on.
    pub based_on_posts: usize,
    pub history_days: i64,
    pub timezone: String,
    /// Best first; empty until some hour of the week has enough posts behind it.
    pub times: Vec<BestTime>,
    /// How they were chosen, in one sentence.
    pub method: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct MetricsReport {
    /// The post (creo's document id) the counters are for.
    pub doc_id: String,
    /// When they were read (ms since the epoch); default now.
    #[serde(default)]
    pub at: Option<i64>,
    pub metrics: Metrics,
}

/// The newest reading of each post and channel among `samples`.
fn newest(samples: &[Sample]) -> Vec<&Sample> {
    let mut by_target: std::collections::HashMap<(&str, &str), &Sample> = Default::default();
    for s in samples {
        let slot = by_target.entry((&s.doc_id, &s.channel_id)).or_insert(s);
        if s.at > slot.at {
            *slot = s;
        }
    }
    by_target.into_values().collect()
}

/// A post's metrics on each channel it went out on, and their readings over time.
#[utoipa::path(get, operation_id = "analytics_document", path = "/api/v1/documents/{doc_id}/analytics", params(("doc_id" = String, Path, description = "the document's id")),
    responses((status = 200, description = "the post's metrics", body = DocumentAnalytics), (status = 404, description = "no such document")))]
pub async fn document(
    DocumentCaller { principal, doc_id }: DocumentCaller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::owned_document(&state, &doc_id, &principal.account).await?;
    let series = state.stores.metrics.samples(&doc_id, MAX_SAMPLES).await?;
    let latest = newest(&series);
    let channels = state
        .stores
        .channels
        .targets(&doc_id)
        .await?
        .into_iter()
        .filter_map(|t| match t.state {
            TargetState::Published { post_id, permalink } => {
                let read = latest.iter().find(|s| s.channel_id == t.channel_id);
                Some(ChannelMetrics {
                    metrics: read.map(|s| s.metrics),
                    read_at: read.map(|s| s.at),
                    channel_id: t.channel_id,
                    platform: t.platform,
                    post_id,
                    permalink,
                })
            }
            _ => None,
        })
        .collect();
    Ok(HttpResponse::Ok().json(DocumentAnalytics {
        channels,
        totals: crate::analytics::totals(latest.iter().copied()),
        series,
    }))
}

/// The account's posts published in a window: totals, per channel, and the best of them.
#[utoipa::path(get, operation_id = "analytics_account", path = "/api/v1/accounts/{account_id}/analytics", params(("account_id" = String, Path, description = "the account (workspace) id"), Window),
    responses((status = 200, description = "the account's metrics", body = AccountAnalytics), (status = 400, description = "a bad or too wide window")))]
pub async fn account(
    AccountCaller { account_id, .. }: AccountCaller,
    query: web::Query<Window>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = super::calendar::window(&query.from, &query.to, WINDOW_DAYS)?;
    let mut latest = state
        .stores
        .metrics
        .latest(&account_id, from, to, MAX_POSTS)
        .await?;
    if let Some(channel) = &query.channel {
        latest.retain(|s| &s.channel_id == channel);
    }
    let mut by_channel: Vec<ChannelTotals> = Vec::new();
    for s in &latest {
        match by_channel.iter_mut().find(|c| c.channel_id == s.channel_id) {
            Some(c) => {
                c.posts += 1;
                c.totals.add(&s.metrics);
            }
            None => by_channel.push(ChannelTotals {
                channel_id: s.channel_id.clone(),
                platform: s.platform.clone(),
                posts: 1,
                totals: s.metrics,
            }),
        }
    }
    let totals = crate::analytics::totals(&latest);
    let mut top = latest.clone();
    top.sort_by(|a, b| b.metrics.engagements.cmp(&a.metrics.engagements));
    top.truncate(10);
    let posts: std::collections::HashSet<&str> = latest.iter().map(|s| s.doc_id.as_str()).collect();
    Ok(HttpResponse::Ok().json(AccountAnalytics {
        posts: posts.len(),
        engagement_rate: totals.engagement_rate(),
        totals,
        by_channel,
        top_posts: top,
    }))
}

/// The weekly times the account's own last 90 days of posts did best.
#[utoipa::path(get, operation_id = "analytics_best_times", path = "/api/v1/accounts/{account_id}/best-times", params(("account_id" = String, Path, description = "the account (workspace) id"), BestTimesQuery),
    responses((status = 200, description = "recommended weekly times", body = BestTimes), (status = 400, description = "unknown time zone")))]
pub async fn best_times(
    AccountCaller { account_id, .. }: AccountCaller,
    query: web::Query<BestTimesQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let name = query.timezone.clone().unwrap_or_else(|| "UTC".into());
    let zone: chrono_tz::Tz = name.parse().map_err(|_| {
        ApiError::bad_request(Code::InvalidTimezone, format!("unknown time zone {name:?}"))
    })?;
    let now = now_ms();
    let mut latest = state
        .stores
        .metrics
        .latest(
            &account_id,
            now - BEST_TIMES_DAYS * 86_400_000,
            now,
            MAX_POSTS,
        )
        .await?;
    if let Some(channel) = &query.channel {
        latest.retain(|s| &s.channel_id == channel);
    }
    let times = crate::analytics::best_times(&latest, zone, 5);
    Ok(HttpResponse::Ok().json(BestTimes {
        based_on_posts: latest.iter().filter(|s| s.metrics.impressions > 0).count(),
        history_days: BEST_TIMES_DAYS,
        timezone: name,
        times,
        method: format!(
            "Posts grouped by the day and hour they went out; each group's mean engagements per impression; groups of at least {} posts that beat the account's own mean, best first. Confidence: low under 5 posts, medium under 15, high from 15.",
            crate::analytics::MIN_POSTS_PER_TIME
        ),
    }))
}

/// A webhook channel's metrics, reported by the team's own service, signed with the channel's
/// secret (`Creo-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`, five minutes'
/// tolerance). The post must have been published on that channel.
#[utoipa::path(post, operation_id = "analytics_report", path = "/api/v1/accounts/{account_id}/channels/{channel_id}/metrics", params(("account_id" = String, Path, description = "the account (workspace) id"), ("channel_id" = String, Path, description = "the channel's id")), request_body = MetricsReport,
    responses((status = 202, description = "recorded"), (status = 400, description = "a bad signature or report"),
              (status = 404, description = "no such channel, or the post was not published there")))]
pub async fn report(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account_id, channel_id) = path.into_inner();
    if body.len() > 16 * 1024 {
        return Err(ApiError::new(
            Code::TooLarge,
            "a metrics report is at most 16 KiB",
        ));
    }
    let channel = state
        .stores
        .channels
        .channel(&account_id, &channel_id)
        .await?
        .filter(|c| c.platform == "webhook")
        .ok_or_else(|| ApiError::not_found("no such webhook channel"))?;
    let secret =
        crate::channels::tokens::open(&state.sealer, &channel.sealed_secret, &channel_id, "secret")
            .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    let signature = req
        .headers()
        .get("creo-signature")
        .and_then(|v| v.to_str().ok());
    crate::billing::webhook::verify(secret.as_bytes(), signature, &body, now_ms() / 1000, 300)
        .map_err(|e| ApiError::bad_request(Code::InvalidSignature, e.to_string()))?;
    let report: MetricsReport = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(Code::InvalidInput, e.to_string()))?;
    let target = state
        .stores
        .channels
        .targets(&report.doc_id)
        .await?
        .into_iter()
        .find(|t| t.channel_id == channel_id && matches!(t.state, TargetState::Published { .. }))
        .ok_or_else(|| ApiError::not_found("that post was not published on this channel"))?;
    let sample = Sample {
        doc_id: report.doc_id,
        account_id,
        channel_id,
        platform: channel.platform,
        published_at: target.updated_at,
        at: report.at.unwrap_or_else(now_ms).min(now_ms()),
        metrics: report.metrics,
        source: "webhook".into(),
    };
    state.stores.metrics.put_sample(&sample).await?;
    metrics::counter!("creo_metrics_samples_total", "source" => "webhook").increment(1);
    Ok(HttpResponse::Accepted().finish())
}
