//! `GET /ws/{doc_id}`: authenticate and authorise before upgrading (so refusals are plain HTTP
//! statuses a client can read), then hand the socket to a `SessionActor`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix_web::{web, HttpRequest, HttpResponse};

use super::{admit_to_document, ApiError};
use crate::actors::session::{SessionActor, SessionSetup};
use crate::app::AppState;
use crate::bus::limits::Refused;
use crate::http::Code;
use crate::socket::Outbox;

#[derive(serde::Deserialize)]
pub struct WsQuery {
    token: Option<String>,
    /// `ack=1`: receive creo's acknowledgement message when updates are durable.
    ack: Option<String>,
    /// `events=1`: receive creo's event messages (workflow transitions of this document).
    events: Option<String>,
    /// `create=0`: never create the document by opening it (the browser editor: a mistyped
    /// address must not make an empty document); an unknown id is a 404.
    create: Option<String>,
}

pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    path: web::Path<String>,
    query: web::Query<WsQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let doc_id = path.into_inner();
    super::address::limit(&req, &state, super::address::Class::Upgrade).await?;
    let principal =
        Arc::new(admit_to_document(&req, &state, query.token.as_deref(), &doc_id).await?);
    if state.shutting_down.load(Ordering::Relaxed) {
        return Err(ApiError::new(Code::ShuttingDown, "server is shutting down"));
    }
    let config = &state.config;
    let too_many_for_user = || {
        metrics::counter!("creo_refused_connections_total", "reason" => "per_user_limit")
            .increment(1);
        ApiError::new(
            Code::TooManyConnections,
            "too many open connections for this user",
        )
        .retry_after(5)
    };
    let limit_key = principal.limit_key();
    let mut slot = state
        .slots
        .acquire(&limit_key, config.max_connections_per_user)
        .ok_or_else(too_many_for_user)?;
    // Counted across the cluster too (a no-op on a single node).
    let lease = state
        .limits
        .acquire(
            &limit_key,
            &doc_id,
            config.max_connections_per_user,
            config.max_connections_per_document,
        )
        .await
        .map_err(|refused| match refused {
            Refused::PerUser => too_many_for_user(),
            Refused::PerDocument => {
                metrics::counter!("creo_refused_connections_total", "reason" => "per_document_limit")
                    .increment(1);
                ApiError::from(crate::actors::document::DocError::TooManyConnections)
            }
        })?;
    slot.hold(lease);
    // Opening an unknown id creates the document for editors and above only (the y-websocket
    // convention); a reader gets 404, as for another account's document.
    let create =
        principal.role.can_write() && !matches!(query.create.as_deref(), Some("0" | "false"));
    state.registry.access(&doc_id, &principal, create).await?;
    let outbox = Outbox::new(config.outbound_queue_frames, config.outbound_queue_bytes);
    let (response, reader) =
        crate::socket::upgrade(&req, body, outbox.clone(), config.max_message_bytes)?;
    let on = |flag: &Option<String>| matches!(flag.as_deref(), Some("1" | "true"));
    let extensions = crate::sync::Extensions {
        ack: on(&query.ack),
        events: on(&query.events),
    };
    SessionActor::spawn(SessionSetup {
        doc_id: Arc::from(doc_id.as_str()),
        principal,
        registry: state.registry.clone(),
        config: state.config.clone(),
        limits: state.limits.clone(),
        outbox,
        reader,
        extensions,
        slot,
    });
    Ok(response)
}
