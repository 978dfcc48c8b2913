//! Operations endpoints: liveness, readiness (the store answers), Prometheus metrics, OpenAPI.

use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

use crate::app::AppState;

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the store answers within a second, no document's writes are failing, the bus
/// (in cluster mode) is connected, and the server is not shutting down.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let shutting_down = state
        .shutting_down
        .load(std::sync::atomic::Ordering::Relaxed);
    let store = actix_rt::time::timeout(
        std::time::Duration::from_secs(1),
        state.stores.documents.ping(),
    )
    .await;
    let failing_writes = state.health.failing_documents();
    let store_ok = matches!(store, Ok(Ok(()))) && failing_writes == 0;
    // A node cut off from the bus still serves its own editors, but must not be sent more: its
    // editors would not see the others'.
    let bus = state.bus.connected();
    let bus_ok = bus != Some(false);
    let body = serde_json::json!({
        "store": if store_ok { "ok" } else { "failing" },
        "bus": match bus { None => "single-node", Some(true) => "ok", Some(false) => "disconnected" },
        "documents_with_failing_writes": failing_writes,
        "shutting_down": shutting_down,
        "live_documents": state.registry.live_documents(),
        // Models do not make the node unready (it still serves documents); an unhealthy one
        // is reported here and in creo_model_healthy, and its AI requests answer 503.
        "ai": match state.pool.unavailable() {
            Some(reason) => serde_json::json!({ "available": false, "reason": reason }),
            None => serde_json::json!({ "available": true, "models": state.pool.status() }),
        },
    });
    if store_ok && bus_ok && !shutting_down {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /debug/store-faults`: the current fault plan (404 unless fault injection is on).
pub async fn get_store_faults(state: web::Data<AppState>) -> HttpResponse {
    match &state.faults {
        Some(f) => HttpResponse::Ok().json(f.plan()),
        None => HttpResponse::NotFound().finish(),
    }
}

/// `PUT /debug/store-faults`: replace the fault plan.
pub async fn put_store_faults(
    state: web::Data<AppState>,
    plan: web::Json<crate::store::faults::FaultPlan>,
) -> HttpResponse {
    match &state.faults {
        Some(f) => {
            f.set_plan(plan.into_inner());
            HttpResponse::Ok().json(f.plan())
        }
        None => HttpResponse::NotFound().finish(),
    }
}

/// `PUT /debug/inference-faults/{model}`: make a model's worker panic on its next batches or
/// slow every batch (404 unless fault injection is on).
pub async fn put_inference_faults(
    state: web::Data<AppState>,
    model: web::Path<String>,
    plan: web::Json<InferenceFaults>,
) -> HttpResponse {
    if state.faults.is_none() {
        return HttpResponse::NotFound().finish();
    }
    let faults = state.pool.faults(&model);
    let order = std::sync::atomic::Ordering::SeqCst;
    faults.panic_batches.store(plan.panic_batches, order);
    faults.delay_ms.store(plan.delay_ms, order);
    HttpResponse::Ok().json(serde_json::json!({
        "panic_batches": plan.panic_batches, "delay_ms": plan.delay_ms
    }))
}

#[derive(serde::Deserialize)]
pub struct InferenceFaults {
    #[serde(default)]
    pub panic_batches: u32,
    #[serde(default)]
    pub delay_ms: u64,
}

pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "creo",
        description = "Real-time collaboration server: documents, identity, accounts and billing. \
        WebSocket editing is served at /ws/{doc_id} with the Yjs sync protocol. Authenticate with \
        `Authorization: Bearer <access token or API key>`."
    ),
    paths(
        super::identity::register,
        super::identity::login,
        super::mfa::second_step,
        super::identity::refresh,
        super::identity::logout,
        super::identity::sessions,
        super::identity::revoke_session,
        super::password_reset::forgot,
        super::password_reset::reset,
        super::email::verify,
        super::email::confirm_change,
        super::users::me,
        super::users::export,
        super::users::erase,
        super::email::resend,
        super::email::change,
        super::mfa::status,
        super::mfa::disable,
        super::mfa::enrol,
        super::mfa::confirm,
        super::mfa::new_recovery_codes,
        super::accounts::my_invitations,
        super::accounts::accept_mine,
        super::notifications::list,
        super::notifications::unread_count,
        super::notifications::stream,
        super::notifications::read_all,
        super::notifications::read,
        super::notifications::mark_unread,
        super::notifications::delete,
        super::notifications::settings,
        super::notifications::set_settings,
        super::accounts::mine,
        super::accounts::create,
        super::accounts::get,
        super::accounts::members,
        super::accounts::change_role,
        super::accounts::remove_member,
        super::accounts::invite,
        super::accounts::invitations,
        super::accounts::accept,
        super::accounts::preview,
        super::accounts::audit_log,
        super::mfa::security_settings,
        super::mfa::set_security_settings,
        super::api_keys::create,
        super::api_keys::list,
        super::api_keys::revoke,
        super::api_keys::mint,
        super::billing::summary,
        super::billing::ledger,
        super::billing::ledger_csv,
        super::billing::usage,
        super::billing::charge,
        super::billing::reserve,
        super::billing::get_reservation,
        super::billing::capture,
        super::billing::release,
        super::billing::webhook,
        super::ai::models,
        super::ai::infer,
        super::ai::embed,
        super::search::search,
        super::search::similar,
        super::search::hashtags,
        super::search::set_brand_voice,
        super::search::score_brand_voice,
        super::comments::list,
        super::comments::create,
        super::comments::resolve,
        super::comments::reopen,
        super::versions::list,
        super::versions::create,
        super::versions::compare,
        super::versions::restore,
        super::workflow::get,
        super::workflow::transition,
        super::workflow::settings,
        super::workflow::set_settings,
        super::generations::price,
        super::generations::create,
        super::generations::get,
        super::generations::select,
        super::webhooks::create,
        super::webhooks::list,
        super::webhooks::delete,
        super::webhooks::deliveries,
        super::channels::list,
        super::calendar::get,
        super::imports::create,
        super::media::upload,
        super::media::list,
        super::media::usage,
        super::media::get,
        super::media::update,
        super::media::content,
        super::media::delete,
        super::uploads::options,
        super::uploads::create,
        super::uploads::offset,
        super::uploads::get,
        super::uploads::append,
        super::uploads::cancel,
        super::brand::get,
        super::brand::change_kit,
        super::brand::upload_font,
        super::brand::font_content,
        super::brand::delete_font,
        super::analytics::account,
        super::analytics::best_times,
        super::analytics::report,
        super::analytics::document,
        super::channels::create_webhook,
        super::channels::connect,
        super::channels::delete,
        super::queue::get,
        super::queue::reorder,
        super::queue::set_schedule,
        super::channels::callback,
        super::suggestions::suggest,
        super::suggestions::undo,
        super::documents::create,
        super::documents::list,
        super::documents::info,
        super::documents::delete,
        super::documents::retitle,
        super::documents::duplicate,
        super::documents::state,
        super::documents::apply_update,
        super::revocations::revoke_document,
        super::revocations::lift_document,
        super::revocations::revoke_account,
        super::revocations::lift_account,
        super::revocations::list,
        openapi
    ),
    // Every error code an answer may carry, from the one table (codes.rs).
    components(schemas(super::codes::Code))
)]
pub struct ApiDoc;

/// This document.
#[utoipa::path(get, operation_id = "ops_openapi", path = "/api/v1/openapi.json",
    responses((status = 200, description = "the OpenAPI 3 document")))]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route `routes` registers is described, with its method, and nothing else is.
    #[test]
    fn the_openapi_document_describes_every_rest_route() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        let mut described = 0;
        for (method, path) in crate::http::api_route_table() {
            let full = format!("/api/v1{path}");
            let op = paths
                .get(&full)
                .and_then(|p| p.get(method))
                .unwrap_or_else(|| panic!("{method} {full} is not in the OpenAPI document"));
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {full} has no responses"
            );
            described += 1;
        }
        let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(
            documented, described,
            "the document describes routes that are not served"
        );
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let codes = &doc["components"]["schemas"]["Code"]["enum"];
        let listed: Vec<&str> = codes
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let table: Vec<&str> = crate::http::Code::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, table, "the document lists every error code");
    }
}
