//! Billing: the account's tier, balance and month's usage; the ledger (paginated, and as CSV);
//! usage per day and action; charges and reservations (each with an `Idempotency-Key`, through
//! the account's `AccountActor`); and the payment provider's signed webhook.

use std::collections::BTreeMap;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::accounts::Page;
use super::extract::{BillingRead, Manager};
use super::{audit, for_account, ApiError};
use crate::actors::account::{Post, Reserve, Settle};
use crate::actors::allowance::Spender;
use crate::app::AppState;
use crate::auth::Principal;
use crate::billing::webhook::{self, Effect, Event};
use crate::billing::{month_start_ms, utc_day, Action, EntryKind, Milli, TierLimits};
use crate::bus::AccessChange;
use crate::http::Code;
use crate::store::now_ms;
use crate::store::{
    shown_key, Balance, LedgerEntry, Posting, Reservation, ReservationStatus, Settlement,
    CLIENT_KEY_PREFIX,
};

#[derive(Serialize, utoipa::ToSchema)]
pub struct Billing {
    pub account_id: String,
    pub tier: crate::billing::Tier,
    pub limits: TierLimits,
    #[serde(flatten)]
    pub balance: Balance,
    pub available_milli: Milli,
    pub payment_failed: bool,
    pub month: MonthUsage,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MonthUsage {
    /// First day of the month (UTC).
    pub from: String,
    pub generations: i64,
    pub generations_limit: Option<u32>,
    pub spent_milli: Milli,
    /// Milli-credits spent per action.
    pub by_action: BTreeMap<String, Milli>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    pub next_before: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UsageRow {
    pub day: String,
    pub action: String,
    pub count: i64,
    pub spent_milli: Milli,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Since {
    /// Days back from today (default 30, at most 400).
    pub days: Option<i64>,
}

impl Since {
    fn start_ms(&self) -> i64 {
        let days = self.days.unwrap_or(30).clamp(1, 400);
        now_ms() - days * 86_400_000
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewCharge {
    pub action: Action,
    /// Default 1.
    #[serde(default = "one")]
    pub quantity: i64,
}

fn one() -> i64 {
    1
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Charged {
    pub entry: LedgerEntry,
    /// Exports on this tier carry a watermark.
    pub watermarked: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Capture {
    /// How much of the reservation was used (default: all of it).
    pub quantity: Option<i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SettledReservation {
    pub reservation: Reservation,
    pub entry: Option<LedgerEntry>,
}

const MAX_QUANTITY: i64 = 10_000;

/// Who may spend credits: editors and above, or an API key with `billing:charge`.
async fn spender(
    req: &HttpRequest,
    state: &AppState,
    account_id: &str,
) -> Result<Principal, ApiError> {
    let p = for_account(req, state, account_id).await?;
    let allowed = match &p.api_key {
        Some(_) => p.has_scope("billing:charge"),
        None => p.role.can_write(),
    };
    if !allowed {
        return Err(ApiError::forbidden(
            Code::Forbidden,
            "your role may not spend the account's credits",
        ));
    }
    Ok(p)
}

/// 201 for a new movement; 200 with `Idempotent-Replayed: true` for one its key made before.
fn created_or_replayed(replayed: bool, body: impl Serialize) -> HttpResponse {
    if replayed {
        HttpResponse::Ok()
            .insert_header(("Idempotent-Replayed", "true"))
            .json(body)
    } else {
        HttpResponse::Created().json(body)
    }
}

fn idempotency_key(req: &HttpRequest) -> Result<String, ApiError> {
    let key = req
        .headers()
        .get("Idempotency-Key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .unwrap_or("");
    if key.is_empty() || key.len() > 200 {
        return Err(ApiError::bad_request(
            Code::IdempotencyKeyRequired,
            "send an Idempotency-Key header (1-200 characters) so a retry never charges twice",
        ));
    }
    Ok(format!("{CLIENT_KEY_PREFIX}{key}"))
}

/// A CSV cell as spreadsheets will read it: text starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return would run as a formula, so it gets a leading `'` (OWASP's advice).
fn csv_text(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn quantity(q: i64) -> Result<i64, ApiError> {
    if (1..=MAX_QUANTITY).contains(&q) {
        Ok(q)
    } else {
        Err(ApiError::bad_request(
            Code::InvalidQuantity,
            format!("quantity is 1-{MAX_QUANTITY}"),
        ))
    }
}

/// Tier, balance and this month's usage.
#[utoipa::path(get, operation_id = "billing_summary", path = "/api/v1/accounts/{account_id}/billing", params(("account_id" = String, Path, description = "the account (workspace) id")),
    responses((status = 200, description = "billing summary", body = Billing)))]
pub async fn summary(
    Manager { account_id, .. }: Manager<BillingRead>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let view = state
        .accounts
        .lookup(&account_id, None)
        .await?
        .ok_or_else(|| ApiError::not_found("no such account"))?;
    let balance = state.stores.ledger.balance(&account_id).await?;
    let month = month_start_ms(now_ms());
    let spent = state.stores.ledger.spent_since(&account_id, month).await?;
    let generations = spent
        .iter()
        .filter(|(action, _)| action.is_generation())
        .map(|(_, (count, _))| count)
        .sum();
    let by_action: BTreeMap<String, Milli> = spent
        .iter()
        .map(|(action, (_, milli))| (action.as_str().to_string(), *milli))
        .collect();
    Ok(HttpResponse::Ok().json(Billing {
        account_id,
        tier: view.account.tier,
        available_milli: balance.available(),
        balance,
        payment_failed: view.account.payment_failed,
        month: MonthUsage {
            from: utc_day(month),
            generations,
            generations_limit: view.limits.monthly_generations,
            spent_milli: by_action.values().sum(),
            by_action,
        },
        limits: view.limits,
    }))
}

/// The ledger, newest first, a page at a time.
#[utoipa::path(get, operation_id = "billing_ledger", path = "/api/v1/accounts/{account_id}/ledger", params(("account_id" = String, Path, description = "the account (workspace) id"), Page),
    responses((status = 200, description = "a page of the ledger", body = LedgerPage)))]
pub async fn ledger(
    Manager { account_id, .. }: Manager<BillingRead>,
    page: web::Query<Page>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let limit = page.limit();
    let entries = state
        .stores
        .ledger
        .ledger(&account_id, page.before, limit)
        .await?;
    let next_before = (entries.len() == limit)
        .then(|| entries.last().map(|e| e.seq))
        .flatten();
    Ok(HttpResponse::Ok().json(LedgerPage {
        entries,
        next_before,
    }))
}

/// The ledger since `days` ago as CSV, oldest first.
#[utoipa::path(get, operation_id = "billing_ledger_csv", path = "/api/v1/accounts/{account_id}/ledger.csv", params(("account_id" = String, Path, description = "the account (workspace) id"), Since),
    responses((status = 200, description = "CSV", content_type = "text/csv", body = String)))]
pub async fn ledger_csv(
    Manager { account_id, .. }: Manager<BillingRead>,
    since: web::Query<Since>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let entries = state
        .stores
        .ledger
        .ledger_since(&account_id, since.start_ms())
        .await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| ApiError::new(Code::Internal, e.to_string());
    out.write_record([
        "seq",
        "created_at",
        "kind",
        "action",
        "quantity",
        "amount_milli",
        "balance_after_milli",
        "user_id",
        "idempotency_key",
        "reservation_id",
    ])
    .map_err(internal)?;
    for e in entries {
        let created = chrono::DateTime::from_timestamp_millis(e.created_at)
            .unwrap_or_default()
            .to_rfc3339();
        out.write_record([
            e.seq.to_string(),
            created,
            e.kind.as_str().to_string(),
            e.action.map(|a| a.as_str().to_string()).unwrap_or_default(),
            e.quantity.to_string(),
            e.amount_milli.to_string(),
            e.balance_after_milli.to_string(),
            csv_text(&e.user_id),
            csv_text(shown_key(&e.idempotency_key)),
            csv_text(&e.reservation_id.unwrap_or_default()),
        ])
        .map_err(internal)?;
    }
    let body = out
        .into_inner()
        .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"ledger.csv\"",
        ))
        .body(body))
}

/// Credits spent per day and action.
#[utoipa::path(get, operation_id = "billing_usage", path = "/api/v1/accounts/{account_id}/usage", params(("account_id" = String, Path, description = "the account (workspace) id"), Since),
    responses((status = 200, description = "usage rows, by day then action", body = Vec<UsageRow>)))]
pub async fn usage(
    Manager { account_id, .. }: Manager<BillingRead>,
    since: web::Query<Since>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut rows: BTreeMap<(String, &'static str), (i64, Milli)> = BTreeMap::new();
    for e in state
        .stores
        .ledger
        .ledger_since(&account_id, since.start_ms())
        .await?
    {
        if let (Some(action), true) = (e.action, e.amount_milli < 0) {
            let row = rows
                .entry((utc_day(e.created_at), action.as_str()))
                .or_default();
            row.0 += e.quantity;
            row.1 += -e.amount_milli;
        }
    }
    let out: Vec<UsageRow> = rows
        .into_iter()
        .map(|((day, action), (count, spent_milli))| UsageRow {
            day,
            action: action.to_string(),
            count,
            spent_milli,
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Charges an action at once. The same `Idempotency-Key` never charges twice: a retry gets the
/// first charge's entry (200, `Idempotent-Replayed: true`). 402 with the balance and the price
/// when the credits do not cover it (or the month's generations are used up, or a payment
/// failed).
#[utoipa::path(post, operation_id = "billing_charge", path = "/api/v1/accounts/{account_id}/charges", request_body = NewCharge,
    params(("account_id" = String, Path, description = "the account (workspace) id"), ("Idempotency-Key" = String, Header, description = "unique per intended charge")),
    responses((status = 201, description = "charged", body = Charged),
              (status = 200, description = "replayed: charged before with this key", body = Charged),
              (status = 402, description = "insufficient credits, quota reached or payment failed"),
              (status = 409, description = "key used for a different charge")))]
pub async fn charge(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<NewCharge>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account_id = path.into_inner();
    let by = spender(&req, &state, &account_id).await?;
    let key = idempotency_key(&req)?;
    let q = quantity(body.quantity)?;
    let posting = Posting {
        account_id: account_id.clone(),
        idempotency_key: key,
        kind: EntryKind::Charge,
        action: Some(body.action),
        quantity: q,
        amount_milli: -state.config.prices.of(body.action) * q,
        user_id: by.actor(),
    };
    let payer = super::email::spender(&state, &by).await?;
    let result = state
        .accounts
        .ask(&account_id, Post(posting, payer))
        .await?;
    if !result.replayed {
        state
            .events
            .people()
            .charged(&result.entry, state.config.low_credits_milli)
            .await;
    }
    let watermarked = body.action == Action::HiresExport
        && state
            .accounts
            .lookup(&account_id, None)
            .await?
            .is_some_and(|v| v.limits.watermarked_exports);
    let answer = Charged {
        entry: result.entry,
        watermarked,
    };
    Ok(created_or_replayed(result.replayed, answer))
}

/// Holds credits for a long operation (a generation job): capture what it used when it
/// succeeds, release it when it fails. Unsettled reservations are released after
/// `reservation_ttl_ms`.
#[utoipa::path(post, operation_id = "billing_reserve", path = "/api/v1/accounts/{account_id}/reservations", request_body = NewCharge,
    params(("account_id" = String, Path, description = "the account (workspace) id"), ("Idempotency-Key" = String, Header, description = "unique per intended reservation")),
    responses((status = 201, description = "held", body = Reservation),
              (status = 200, description = "replayed", body = Reservation),
              (status = 402, description = "insufficient credits, quota reached or payment failed")))]
pub async fn reserve(
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Json<NewCharge>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let account_id = path.into_inner();
    let by = spender(&req, &state, &account_id).await?;
    let payer = super::email::spender(&state, &by).await?;
    let key = idempotency_key(&req)?;
    let q = quantity(body.quantity)?;
    let now = now_ms();
    let reservation = Reservation {
        reservation_id: format!("r_{}", crate::auth::secret::id()),
        account_id: account_id.clone(),
        action: body.action,
        quantity: q,
        amount_milli: state.config.prices.of(body.action) * q,
        status: ReservationStatus::Held,
        user_id: by.actor(),
        idempotency_key: key,
        created_at: now,
        expires_at: now + state.config.reservation_ttl_ms as i64,
        entry_seq: None,
    };
    let (r, replayed) = state
        .accounts
        .ask(&account_id, Reserve(reservation, payer))
        .await?;
    Ok(created_or_replayed(replayed, r))
}

#[utoipa::path(get, operation_id = "billing_get_reservation", path = "/api/v1/accounts/{account_id}/reservations/{reservation_id}", params(("account_id" = String, Path, description = "the account (workspace) id"), ("reservation_id" = String, Path, description = "the reservation's id")),
    responses((status = 200, description = "the reservation", body = Reservation),
              (status = 404, description = "not in this account")))]
pub async fn get_reservation(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account_id, id) = path.into_inner();
    spender(&req, &state, &account_id).await?;
    let r = state
        .stores
        .ledger
        .reservation(&account_id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("no such reservation in this account"))?;
    Ok(HttpResponse::Ok().json(r))
}

async fn settle(
    req: HttpRequest,
    account_id: String,
    id: String,
    how: Settlement,
    state: &AppState,
) -> Result<HttpResponse, ApiError> {
    spender(&req, state, &account_id).await?;
    let (reservation, entry, replayed) = state
        .accounts
        .ask(
            &account_id,
            Settle {
                reservation_id: id,
                how,
            },
        )
        .await?;
    let mut resp = HttpResponse::Ok();
    if replayed {
        resp.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(resp.json(SettledReservation { reservation, entry }))
}

/// Captures what a reservation's operation used (the rest is released). Repeating it answers
/// the same capture.
#[utoipa::path(post, operation_id = "billing_capture", path = "/api/v1/accounts/{account_id}/reservations/{reservation_id}/capture", params(("account_id" = String, Path, description = "the account (workspace) id"), ("reservation_id" = String, Path, description = "the reservation's id")),
    request_body = Capture,
    responses((status = 200, description = "captured", body = SettledReservation),
              (status = 409, description = "already released")))]
pub async fn capture(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    body: web::Json<Capture>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account_id, id) = path.into_inner();
    let quantity = body.quantity.unwrap_or(i64::MAX).max(0);
    settle(
        req,
        account_id,
        id,
        Settlement::Capture { quantity },
        &state,
    )
    .await
}

/// Releases a reservation whole: a failed operation costs nothing.
#[utoipa::path(post, operation_id = "billing_release", path = "/api/v1/accounts/{account_id}/reservations/{reservation_id}/release", params(("account_id" = String, Path, description = "the account (workspace) id"), ("reservation_id" = String, Path, description = "the reservation's id")),
    responses((status = 200, description = "released", body = SettledReservation),
              (status = 409, description = "already captured")))]
pub async fn release(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let (account_id, id) = path.into_inner();
    settle(req, account_id, id, Settlement::Release, &state).await
}

/// The payment provider's events, signed `Creo-Signature: t=<unix>,v1=<hex HMAC-SHA256 of
/// "<t>.<body>">`. Bad or stale signatures are refused; each event id takes effect once.
#[utoipa::path(post, operation_id = "billing_webhook", path = "/api/v1/billing/webhook", request_body = Event,
    params(("Creo-Signature" = String, Header, description = "t=<unix>,v1=<hex>")),
    responses((status = 200, description = "processed (or already processed)"),
              (status = 400, description = "bad signature, stale timestamp or malformed event"),
              (status = 404, description = "webhook not configured")))]
pub async fn webhook(
    req: HttpRequest,
    body: Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    super::address::limit(&req, &state, super::address::Class::Auth).await?;
    let Some(secret) = &state.config.billing_webhook_secret else {
        return Err(ApiError::not_found("the billing webhook is not configured"));
    };
    let signature = req
        .headers()
        .get("Creo-Signature")
        .and_then(|v| v.to_str().ok());
    let now = now_ms() / 1000;
    if let Err(e) = webhook::verify(
        secret.as_bytes(),
        signature,
        &body,
        now,
        state.config.billing_webhook_tolerance_secs,
    ) {
        metrics::counter!("creo_webhooks_refused_total", "reason" => e.metric_reason())
            .increment(1);
        return Err(ApiError::bad_request(Code::InvalidSignature, e.to_string()));
    }
    let event: Event = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(Code::InvalidEvent, e.to_string()))?;
    let effect = event
        .effect()
        .map_err(|e| ApiError::bad_request(Code::InvalidEvent, e))?;
    if state
        .stores
        .payment_events
        .event_processed(&event.id)
        .await?
    {
        metrics::counter!("creo_webhooks_total", "result" => "duplicate").increment(1);
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "duplicate" })));
    }
    let account = &event.data.account_id;
    if state.stores.accounts.account(account).await?.is_none() {
        return Err(ApiError::bad_request(
            Code::UnknownAccount,
            "no such account",
        ));
    }
    // Effects are idempotent on their own (credits through the ledger's key, the rest set a
    // value), so a delivery racing this one, or a crash before the event is recorded, cannot
    // apply anything twice.
    match &effect {
        Effect::AddCredits(milli) => {
            let posting = Posting {
                account_id: account.clone(),
                idempotency_key: format!("payment:{}", event.id),
                kind: EntryKind::Purchase,
                action: None,
                quantity: 0,
                amount_milli: *milli,
                user_id: "system".into(),
            };
            state
                .accounts
                .ask(account, Post(posting, Spender::Trusted))
                .await?;
        }
        Effect::SetTier(tier) => {
            state.stores.accounts.set_tier(account, *tier).await?;
        }
        Effect::PaymentFailed(failed) => {
            state
                .stores
                .accounts
                .set_payment_failed(account, *failed)
                .await?;
        }
    }
    state
        .stores
        .payment_events
        .record_event(&event.id, &event.kind, now_ms())
        .await?;
    super::announce(
        &state,
        AccessChange::Account {
            account: account.clone(),
        },
    );
    audit(
        &state,
        account,
        "payment-provider",
        &event.kind,
        &event.id,
        "",
    )
    .await;
    metrics::counter!("creo_webhooks_total", "result" => "processed").increment(1);
    Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "processed" })))
}
