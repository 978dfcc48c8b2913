//! Bulk scheduling from a CSV file (owners and admins): every row is checked first (its text
//! against its channels' platforms, its channels, its time), and when any row is wrong the
//! answer is a report of every problem by row, with nothing created. When all are right each
//! row becomes a post: created, written, submitted, approved by the importer and scheduled to
//! its channels; in a workspace that requires more approvals, rows wait in review.
//!
//! Columns (a header row names them, in any order): `text`, `channels` (ids or names, `;`
//! between them), `time` (`2026-12-01 09:00` local, or RFC 3339), and optionally `title` and
//! `timezone` (else the `timezone` query parameter, else UTC).

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use chrono::TimeZone;
use serde::{Deserialize, Serialize};

use super::extract::Manager;
use super::workflow::{apply_move, Move};
use super::ApiError;
use crate::app::AppState;
use crate::channels::{Channel, ChannelStatus};
use crate::http::Code;
use crate::platforms::Target;
use crate::store::now_ms;
use crate::workflow::{Action, State};

/// The largest file and the most rows one import takes.
const MAX_BYTES: usize = 1 << 20;
const MAX_ROWS: usize = 500;
const MAX_TEXT_CHARS: usize = 10_000;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// The zone of local times in rows without a `timezone` (default UTC).
    #[serde(default)]
    pub timezone: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RowReport {
    /// 1 is the first row after the header.
    pub row: usize,
    /// What is wrong with it (empty when it is fine).
    pub errors: Vec<String>,
    /// Once imported: the new post and where it stands (`scheduled`, or `in_review` where the
    /// workspace needs more approvals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub doc_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    /// Whether the posts were made (only when no row had a problem).
    pub imported: bool,
    pub rows: Vec<RowReport>,
}

/// One row, checked: what to make of it.
struct Planned {
    title: String,
    text: String,
    at: String,
    timezone: String,
    targets: Vec<Target>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(Code::InvalidInput, message)
}

/// The channels `cell` names (ids or names, `;`-separated), or why not.
fn channels_of(cell: &str, all: &[Channel], errors: &mut Vec<String>) -> Vec<Target> {
    let mut targets = Vec::new();
    for wanted in cell.split(';').map(str::trim).filter(|w| !w.is_empty()) {
        let found = all
            .iter()
            .find(|c| c.channel_id == wanted || c.name.eq_ignore_ascii_case(wanted));
        match found {
            None => errors.push(format!("no channel {wanted:?} in this workspace")),
            Some(c) if c.status == ChannelStatus::NeedsReconnect => {
                errors.push(format!("{} needs reconnecting", c.name))
            }
            Some(c)
                if targets
                    .iter()
                    .any(|t: &Target| t.channel_id.as_ref() == Some(&c.channel_id)) =>
            {
                errors.push(format!("{} is named twice", c.name))
            }
            Some(c) => targets.push(Target {
                platform: if c.platform == "webhook" {
                    "generic".into()
                } else {
                    c.platform.clone()
                },
                format: None,
                channel_id: Some(c.channel_id.clone()),
            }),
        }
    }
    if targets.is_empty() && errors.is_empty() {
        errors.push("no channels".into());
    }
    targets
}

/// `time` in `zone` as the workflow's local time, after checking it is a future instant.
fn local_time(time: &str, zone: &str, errors: &mut Vec<String>) -> Option<String> {
    let Ok(tz) = zone.parse::<chrono_tz::Tz>() else {
        errors.push(format!("unknown time zone {zone:?}"));
        return None;
    };
    let instant = if let Ok(t) = chrono::DateTime::parse_from_rfc3339(time) {
        Some(t.timestamp_millis())
    } else {
        [
            "%Y-%m-%d %H:%M",
            "%Y-%m-%d %H:%M:%S",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%dT%H:%M:%S",
        ]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(time, f).ok())
        .and_then(|local| tz.from_local_datetime(&local).earliest())
        .map(|t| t.timestamp_millis())
    };
    match instant {
        None => errors.push(format!(
            "time {time:?} is like 2026-12-01 09:00 (in {zone})"
        )),
        Some(at) if at <= now_ms() => errors.push(format!("{time} has passed")),
        Some(at) => {
            let local = tz.timestamp_millis_opt(at).single()?;
            return Some(local.format("%Y-%m-%dT%H:%M:%S").to_string());
        }
    }
    None
}

/// Checks every row; the plan, or the report of what is wrong.
async fn plan(
    state: &AppState,
    account_id: &str,
    csv_bytes: &[u8],
    default_zone: &str,
) -> Result<Result<Vec<Planned>, Vec<RowReport>>, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(csv_bytes);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("the header row does not read: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(text_at), Some(channels_at), Some(time_at)) =
        (column("text"), column("channels"), column("time"))
    else {
        return Err(bad(
            "the header row names text, channels and time (title and timezone are optional)",
        ));
    };
    let (title_at, zone_at) = (column("title"), column("timezone"));
    let channels = state.stores.channels.channels(account_id).await?;
    let mut planned = Vec::new();
    let mut reports = Vec::new();
    for (i, record) in reader.records().enumerate() {
        if i >= MAX_ROWS {
            return Err(bad(format!("at most {MAX_ROWS} rows in one import")));
        }
        let mut errors = Vec::new();
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                reports.push(RowReport {
                    row: i + 1,
                    errors: vec![format!("unreadable: {e}")],
                    doc_id: None,
                    state: None,
                });
                continue;
            }
        };
        let cell = |at: Option<usize>| at.and_then(|a| record.get(a)).unwrap_or("").to_string();
        let text = cell(Some(text_at));
        if text.is_empty() {
            errors.push("the text is empty".into());
        } else if text.chars().count() > MAX_TEXT_CHARS {
            errors.push(format!("the text is over {MAX_TEXT_CHARS} characters"));
        }
        let targets = channels_of(&cell(Some(channels_at)), &channels, &mut errors);
        let zone = Some(cell(zone_at))
            .filter(|z| !z.is_empty())
            .unwrap_or_else(|| default_zone.to_string());
        let at = local_time(&cell(Some(time_at)), &zone, &mut errors);
        let title: String = Some(cell(title_at))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| text.chars().take(60).collect());
        reports.push(RowReport {
            row: i + 1,
            errors,
            doc_id: None,
            state: None,
        });
        planned.push(Planned {
            title: title
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect(),
            text,
            at: at.unwrap_or_default(),
            timezone: zone,
            targets,
        });
    }
    if reports.is_empty() {
        return Err(bad("the file has no rows"));
    }
    // The platform checks of every row at once, off the executor: each row's text in a
    // document of its own, as it will be published.
    let checks: Vec<(String, Vec<Target>)> = planned
        .iter()
        .map(|p| (p.text.clone(), p.targets.clone()))
        .collect();
    let (chars, hashtags) = (
        state.config.publish_max_chars,
        state.config.publish_max_hashtags,
    );
    let problems: Vec<Option<String>> = crate::snapshot::off_executor(move || {
        checks
            .iter()
            .map(|(text, targets)| {
                let doc = yrs::Doc::new();
                crate::fields::append(&doc, "post", text);
                // A row is text only: it names no library media.
                let library = crate::platforms::Library::new();
                crate::platforms::posts(&doc, targets, chars, hashtags, &library).err()
            })
            .collect()
    })
    .await;
    for (report, problem) in reports.iter_mut().zip(problems) {
        report.errors.extend(problem);
    }
    if reports.iter().any(|r| !r.errors.is_empty()) || planned.len() != reports.len() {
        return Ok(Err(reports));
    }
    Ok(Ok(planned))
}

/// Schedules posts from a CSV file, or reports every problem by row and makes nothing.
#[utoipa::path(post, operation_id = "imports_create", path = "/api/v1/accounts/{account_id}/imports", params(("account_id" = String, Path, description = "the account (workspace) id"), ImportQuery),
    request_body(content = String, content_type = "text/csv"),
    responses((status = 201, description = "every row imported", body = ImportReport),
              (status = 422, description = "some rows are wrong: nothing was imported", body = ImportReport),
              (status = 400, description = "not a CSV this takes")))]
pub async fn create(
    Manager {
        principal,
        account_id,
        ..
    }: Manager,
    query: web::Query<ImportQuery>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if body.len() > MAX_BYTES {
        return Err(ApiError::new(
            Code::TooLarge,
            format!("an import is at most {MAX_BYTES} bytes"),
        ));
    }
    let zone = query.timezone.clone().unwrap_or_else(|| "UTC".into());
    let planned = match plan(&state, &account_id, &body, &zone).await? {
        Ok(planned) => planned,
        Err(rows) => {
            metrics::counter!("creo_imports_total", "outcome" => "refused").increment(1);
            return Ok(HttpResponse::UnprocessableEntity().json(ImportReport {
                imported: false,
                rows,
            }));
        }
    };
    let principal = Arc::new(principal);
    let mut rows = Vec::with_capacity(planned.len());
    for (i, p) in planned.into_iter().enumerate() {
        let doc_id = format!("d_{}", crate::auth::secret::id());
        state.registry.access(&doc_id, &principal, true).await?;
        state.stores.documents.set_title(&doc_id, &p.title).await?;
        let update = {
            let doc = yrs::Doc::new();
            // The editor's rich-text field: one paragraph per line.
            doc.get_or_insert_xml_fragment("post");
            crate::fields::append(&doc, "post", &p.text);
            let txn = yrs::Transact::transact(&doc);
            yrs::ReadTxn::encode_state_as_update_v1(&txn, &yrs::StateVector::default())
        };
        super::documents::write_trusted(&state, &doc_id, &principal, update).await?;
        let step = |action: Action| Move {
            action,
            note: if action == Action::Submit {
                "imported".into()
            } else {
                String::new()
            },
            queue: None,
            repeat: None,
            at: None,
            timezone: None,
            targets: Vec::new(),
        };
        apply_move(
            &state,
            &principal,
            &doc_id,
            &account_id,
            step(Action::Submit),
        )
        .await?;
        let approved = apply_move(
            &state,
            &principal,
            &doc_id,
            &account_id,
            step(Action::Approve),
        )
        .await?;
        let state_now = if approved.workflow.state == State::Approved {
            let schedule = Move {
                at: Some(p.at.clone()),
                timezone: Some(p.timezone.clone()),
                targets: p.targets.clone(),
                ..step(Action::Schedule)
            };
            apply_move(&state, &principal, &doc_id, &account_id, schedule)
                .await?
                .workflow
                .state
        } else {
            approved.workflow.state
        };
        rows.push(RowReport {
            row: i + 1,
            errors: Vec::new(),
            doc_id: Some(doc_id),
            state: Some(state_now),
        });
    }
    metrics::counter!("creo_imports_total", "outcome" => "imported").increment(1);
    let detail = format!("{} posts", rows.len());
    super::audit(
        &state,
        &account_id,
        &principal.actor(),
        "posts_imported",
        "csv",
        &detail,
    )
    .await;
    Ok(HttpResponse::Created().json(ImportReport {
        imported: true,
        rows,
    }))
}
