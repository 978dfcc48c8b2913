//! Who is asking, as handler arguments: each extractor authenticates the request and checks the
//! caller's right to the account or document its path names, before the handler runs. A
//! handler that takes `Manager` cannot forget the owner-or-admin check; one that takes
//! `DocumentCaller` was admitted to the document (scope, token scope, revocations).

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use super::{admit_to_document, for_account, for_manager, ApiError};
use crate::app::AppState;
use crate::auth::Principal;

/// Runs `check` on the request and the app's state, as an extractor's future.
fn authorise<T, F, Fut>(req: &HttpRequest, check: F) -> LocalBoxFuture<'static, Result<T, ApiError>>
where
    F: FnOnce(HttpRequest, web::Data<AppState>) -> Fut + 'static,
    Fut: Future<Output = Result<T, ApiError>> + 'static,
{
    let state = req
        .app_data::<web::Data<AppState>>()
        .expect("AppState is registered")
        .clone();
    Box::pin(check(req.clone(), state))
}

/// A path parameter the route declares (the router matched it, so it is there).
fn path_param(req: &HttpRequest, name: &str) -> String {
    req.match_info().get(name).unwrap_or_default().to_string()
}

/// The caller acting for the account in the path (`{account_id}`), any role.
pub struct AccountCaller {
    pub principal: Principal,
    pub account_id: String,
}

impl FromRequest for AccountCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authorise(req, |req, state| async move {
            let account_id = path_param(&req, "account_id");
            let principal = for_account(&req, &state, &account_id).await?;
            Ok(AccountCaller {
                principal,
                account_id,
            })
        })
    }
}

/// What an API key needs to act as a manager on a route; a person needs to be an owner or admin.
pub trait KeyScope {
    /// `None`: no API key may.
    const SCOPE: Option<&'static str>;
}

/// Owners and admins only, never an API key.
pub struct PeopleOnly;

impl KeyScope for PeopleOnly {
    const SCOPE: Option<&'static str> = None;
}

/// Owners and admins, or an API key with `billing:read`.
pub struct BillingRead;

impl KeyScope for BillingRead {
    const SCOPE: Option<&'static str> = Some("billing:read");
}

/// Owners and admins, or an API key with `billing:charge`.
pub struct BillingCharge;

impl KeyScope for BillingCharge {
    const SCOPE: Option<&'static str> = Some("billing:charge");
}

/// An owner or admin of the account in the path (`{account_id}`), or an API key with `S`'s
/// scope.
pub struct Manager<S: KeyScope = PeopleOnly> {
    pub principal: Principal,
    pub account_id: String,
    scope: PhantomData<S>,
}

impl<S: KeyScope + 'static> FromRequest for Manager<S> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authorise(req, |req, state| async move {
            let account_id = path_param(&req, "account_id");
            let principal = for_manager(&req, &state, &account_id, S::SCOPE).await?;
            Ok(Manager {
                principal,
                account_id,
                scope: PhantomData,
            })
        })
    }
}

/// The caller admitted to the document in the path (`{doc_id}`): authenticated, with a
/// documents scope, a token that may open it, and no revocation standing.
pub struct DocumentCaller {
    pub principal: Arc<Principal>,
    pub doc_id: String,
}

impl FromRequest for DocumentCaller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        authorise(req, |req, state| async move {
            let doc_id = path_param(&req, "doc_id");
            let principal = admit_to_document(&req, &state, None, &doc_id).await?;
            Ok(DocumentCaller {
                principal: Arc::new(principal),
                doc_id,
            })
        })
    }
}
