//! `GET /ws/{doc_id}`: authenticate and authorise before upgrading (so refusals are plain HTTP
//! statuses a client can read), then take the TCP stream out of the HTTP layer and hand it to a
//! `SessionActor`.
//!
//! Upgrade requests never reach the routed app: actix-http hands every request that asks for
//! an upgrade, with its connection, to [`upgraded`]. The HTTP dispatcher, with its read and
//! write buffers, is then gone, and the socket belongs to `socket/` alone.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use actix_codec::Framed;
use actix_http::body::BodySize;
use actix_http::{h1, ConnectionType, Request, Response};
use actix_web::dev::RequestHead;
use actix_web::{web, HttpRequest, ResponseError};
use bytes::BytesMut;
use futures_util::SinkExt;
use tokio::net::TcpStream;

use super::{admit_to_document, ApiError};
use crate::actors::document::Placement;
use crate::actors::session::{ConnectionSlot, SessionActor, SessionSetup};
use crate::app::AppState;
use crate::auth::Principal;
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

/// The route for a `GET /ws/{doc_id}` that does not ask for an upgrade: its credentials are
/// checked as for a socket (so a client learns why it would be refused), then it is told to
/// upgrade.
pub async fn not_upgraded(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<WsQuery>,
    state: web::Data<AppState>,
) -> Result<actix_web::HttpResponse, ApiError> {
    admit_to_document(&req, &state, query.token.as_deref(), &path).await?;
    Err(ApiError::new(
        Code::WebsocketHandshake,
        "this route serves WebSocket upgrades only",
    ))
}

/// Serves one upgrade request on its connection: answers 101 and starts the session, or
/// answers the refusal and closes.
pub async fn upgraded(
    state: web::Data<AppState>,
    req: Request,
    mut framed: Framed<TcpStream, h1::Codec>,
) -> Result<(), actix_web::Error> {
    let head = req.head();
    let admitted = match admit(&state, head).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refuse(&mut framed, refusal).await,
    };
    let switching = actix_http::ws::handshake_response(head).message_body(())?;
    framed.send((switching, BodySize::None).into()).await?;
    let parts = framed.into_parts();
    let (io, received) = (parts.io, parts.read_buf);
    let state = state.into_inner();
    // The session runs on its document's thread: moved there if the connection arrived on
    // another worker (the stream leaves this thread's reactor and joins that one's).
    match admitted.placement.clone() {
        Some(home) if home.thread != std::thread::current().id() => {
            metrics::counter!("creo_sessions_moved_total").increment(1);
            let io = io.into_std()?;
            home.arbiter.spawn(async move {
                match TcpStream::from_std(io) {
                    Ok(io) => start_session(&state, admitted, io, received),
                    Err(e) => {
                        tracing::warn!(error = %e, "moving a socket to its document's thread")
                    }
                }
            });
        }
        _ => start_session(&state, admitted, io, received),
    }
    Ok(())
}

/// Takes over the connection and starts its session on this thread.
fn start_session(state: &AppState, admitted: Admitted, io: TcpStream, received: BytesMut) {
    let config = &state.config;
    let outbox = Outbox::new(config.outbound_queue_frames, config.outbound_queue_bytes);
    let reader = crate::socket::take_over(io, received, outbox.clone(), config.max_message_bytes);
    SessionActor::spawn(SessionSetup {
        doc_id: admitted.doc_id,
        principal: admitted.principal,
        registry: state.registry.clone(),
        config: state.config.clone(),
        limits: state.limits.clone(),
        outbox,
        reader,
        extensions: admitted.extensions,
        slot: admitted.slot,
    });
}

/// A session about to start: who, on what, and its place in the connection limits.
struct Admitted {
    doc_id: Arc<str>,
    principal: Arc<Principal>,
    extensions: crate::sync::Extensions,
    slot: ConnectionSlot,
    placement: Option<Placement>,
}

/// Every check before a socket opens, cheapest first: the route and the handshake, the
/// address's rate, the credentials and revocations, the connection limits, then the document.
async fn admit(state: &AppState, head: &RequestHead) -> Result<Admitted, ApiError> {
    let doc_id = head
        .uri
        .path()
        .strip_prefix("/ws/")
        .map(|raw| percent_encoding::percent_decode_str(raw).decode_utf8_lossy())
        .ok_or_else(|| ApiError::new(Code::NotFound, "upgrades are served on /ws/{doc_id} only"))?;
    let query = web::Query::<WsQuery>::from_query(head.uri.query().unwrap_or(""))
        .map_err(|e| ApiError::new(Code::InvalidQuery, e.to_string()))?;
    actix_http::ws::verify_handshake(head)
        .map_err(|e| ApiError::new(Code::WebsocketHandshake, e.to_string()))?;
    super::address::limit(head, state, super::address::Class::Upgrade).await?;
    let principal =
        Arc::new(admit_to_document(head, state, query.token.as_deref(), &doc_id).await?);
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
    let placement = state.registry.placement(&doc_id).await;
    let on = |flag: &Option<String>| matches!(flag.as_deref(), Some("1" | "true"));
    Ok(Admitted {
        doc_id: Arc::from(&*doc_id),
        principal,
        extensions: crate::sync::Extensions {
            ack: on(&query.ack),
            events: on(&query.events),
        },
        slot,
        placement,
    })
}

/// Answers a refused upgrade with its status and JSON error, then closes the connection.
async fn refuse(
    framed: &mut Framed<TcpStream, h1::Codec>,
    refusal: ApiError,
) -> Result<(), actix_web::Error> {
    let (response, body) = refusal.error_response().into_parts();
    let body = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let mut response: Response<()> = response.into();
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    framed
        .send((response, BodySize::Sized(body.len() as u64)).into())
        .await?;
    framed.send(h1::Message::Chunk(Some(body))).await?;
    framed.close().await?;
    Ok(())
}
