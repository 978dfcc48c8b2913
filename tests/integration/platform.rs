//! A local stand-in for the APIs of X, LinkedIn, Instagram, Facebook, Pinterest, TikTok and
//! YouTube and their OAuth 2.0 authorization servers, for the channel tests. It checks what their documentation asks of a client (PKCE S256, the
//! client's credentials where each platform wants them, bearer tokens, the publish request's
//! path, headers and body shape) and answers as they do, including their errors and rate
//! limits when a test queues those. Nothing here reaches a real network.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;

pub const CLIENT_ID: &str = "creo-test-client";
pub const CLIENT_SECRET: &str = "creo-test-client-secret";
/// The Instagram account the stand-in's tokens belong to.
pub const IG_USER: &str = "17841400000";
/// The Facebook Page the person manages (another one they granted is read-only).
pub const FB_PAGE: &str = "1029384756";
/// The first (and only) Pinterest board.
pub const BOARD: &str = "549755885175";
/// The image a post's media URL points at (`/media/photo.jpg`).
pub fn photo() -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xD8, 0xFF, 0xE0];
    bytes.extend((0..20_000u32).map(|i| (i.wrapping_mul(40_503) >> 7) as u8));
    bytes
}

/// The video a post's media URL points at (`/media/clip.mp4`).
pub fn clip() -> Vec<u8> {
    (0..300_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

/// One request the platform got.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// An answer a test queues for the next publish request.
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

#[derive(Default)]
pub struct State {
    pub seen: Vec<Seen>,
    /// Codes the person "approved", with the PKCE challenge they were issued for.
    codes: HashMap<String, String>,
    access: HashSet<String>,
    refresh: HashSet<String>,
    issued: u32,
    /// Seconds the access tokens it issues last.
    pub expires_in: i64,
    /// Answers for the next publish requests (`POST /2/tweets`, `POST /rest/posts`) before the
    /// normal one.
    pub next_publish: VecDeque<Canned>,
    pub refresh_refused: bool,
    /// Metrics reads answered so far (each answers bigger counters, as a post's grow).
    pub metrics_reads: u32,
    /// Instagram's short-lived tokens, waiting to be swapped for long-lived ones.
    short_lived: HashSet<String>,
    /// Instagram media containers, with how often their status was asked.
    containers: HashMap<String, u32>,
    /// TikTok posts being published, with how often their status was asked.
    tiktok_posts: HashMap<String, u32>,
    /// YouTube upload sessions, with the length each was told.
    uploads: HashMap<String, u64>,
    /// Media ids X gave uploads.
    x_media: HashSet<String>,
    /// LinkedIn images: their URN, and whether their bytes arrived.
    linkedin_images: HashMap<String, bool>,
}

#[derive(Clone)]
pub struct Platform {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Platform {
    pub fn start() -> Platform {
        let state = Arc::new(Mutex::new(State {
            expires_in: 7200,
            ..State::default()
        }));
        let shared = state.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(shared.clone()))
                        .app_data(web::PayloadConfig::new(4 << 20))
                        .default_service(web::to(answer))
                })
                .workers(1)
                .bind("127.0.0.1:0")
                .unwrap();
                tx.send(server.addrs()[0]).unwrap();
                server.run().await.unwrap();
            })
        });
        let addr = rx.recv().unwrap();
        Platform {
            url: format!("http://{addr}"),
            state,
        }
    }

    /// The person approves at the authorization page that `challenge` came from: the code the
    /// platform sends them back with.
    pub fn approve(&self, challenge: &str) -> String {
        let mut s = self.state.lock().unwrap();
        s.issued += 1;
        let code = format!("code_{}", s.issued);
        s.codes.insert(code.clone(), challenge.to_string());
        code
    }

    /// The platform forgets every access token (as when the person revokes the app): a
    /// refresh still works unless `refresh_refused`.
    pub fn expire_access_tokens(&self) {
        self.state.lock().unwrap().access.clear();
    }

    pub fn queue(&self, canned: Canned) {
        self.state.lock().unwrap().next_publish.push_back(canned);
    }

    pub fn requests(&self, path: &str) -> Vec<Seen> {
        let s = self.state.lock().unwrap();
        s.seen.iter().filter(|r| r.path == path).cloned().collect()
    }
}

fn error(status: u16, body: Value) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).json(body)
}

async fn answer(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<State>>>,
) -> HttpResponse {
    let headers: HashMap<String, String> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let seen = Seen {
        method: req.method().to_string(),
        path: req.path().to_string(),
        headers: headers.clone(),
        body: body.to_vec(),
    };
    let mut s = state.lock().unwrap();
    s.seen.push(seen.clone());
    let bearer = headers
        .get("authorization")
        .and_then(|a| a.strip_prefix("Bearer "))
        .map(str::to_string);
    let authorized = bearer.as_ref().is_some_and(|t| s.access.contains(t));
    let query: HashMap<String, String> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    match (seen.method.as_str(), seen.path.as_str()) {
        ("POST", "/instagram/oauth/access_token") => {
            // Instagram's own answer: no token_type, and no PKCE check.
            let known = form.get("code").is_some_and(|c| s.codes.remove(c).is_some());
            if !known || form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
                return error(400, json!({ "error_type": "OAuthException", "code": 400, "error_message": "Invalid authorization code" }));
            }
            s.issued += 1;
            let short = format!("short_{}", s.issued);
            s.short_lived.insert(short.clone());
            return HttpResponse::Ok().json(json!({ "access_token": short, "user_id": IG_USER, "permissions": "instagram_business_basic,instagram_business_content_publish" }));
        }
        ("GET", "/instagram/access_token" | "/instagram/refresh_access_token") => {
            let presented = query.get("access_token").cloned().unwrap_or_default();
            let valid = if seen.path.ends_with("/access_token") && !seen.path.contains("refresh") {
                query.get("grant_type").map(String::as_str) == Some("ig_exchange_token")
                    && query.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
                    && s.short_lived.remove(&presented)
            } else {
                query.get("grant_type").map(String::as_str) == Some("ig_refresh_token") && s.access.contains(&presented) && !s.refresh_refused
            };
            if !valid {
                return error(400, json!({ "error": { "message": "Error validating access token", "type": "OAuthException", "code": 190 } }));
            }
            s.issued += 1;
            let long = format!("long_{}", s.issued);
            s.access.insert(long.clone());
            return HttpResponse::Ok().json(json!({ "access_token": long, "token_type": "bearer", "expires_in": s.expires_in }));
        }
        ("POST", "/x/oauth2/token" | "/pinterest/v5/oauth/token") => {
            token(&mut s, &headers, &body, Client::Basic)
        }
        ("POST", "/linkedin/oauth/v2/accessToken" | "/facebook/oauth/access_token" | "/youtube/token") => {
            token(&mut s, &headers, &body, Client::Form("client_id"))
        }
        ("POST", "/tiktok/v2/oauth/token/") => token(&mut s, &headers, &body, Client::Form("client_key")),
        ("GET", "/facebook/oauth/access_token") => {
            // The user token made long-lived.
            let presented = query.get("fb_exchange_token").cloned().unwrap_or_default();
            let valid = query.get("grant_type").map(String::as_str) == Some("fb_exchange_token")
                && query.get("client_id").map(String::as_str) == Some(CLIENT_ID)
                && query.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
                && s.access.contains(&presented);
            if !valid {
                return error(400, json!({ "error": { "message": "Invalid OAuth access token", "type": "OAuthException", "code": 190 } }));
            }
            s.issued += 1;
            let long = format!("user_long_{}", s.issued);
            s.access.insert(long.clone());
            return HttpResponse::Ok().json(json!({ "access_token": long, "token_type": "bearer", "expires_in": 5_183_944 }));
        }
        ("GET", "/media/photo.jpg") => {
            return HttpResponse::Ok().content_type("image/jpeg").body(photo());
        }
        ("GET", "/media/clip.mp4") => {
            return HttpResponse::Ok().content_type("video/mp4").body(clip());
        }
        _ if !authorized => error(
            401,
            json!({ "title": "Unauthorized", "status": 401, "detail": "Unauthorized" }),
        ),
        ("GET", path) if path.starts_with("/x/2/tweets/") => {
            let fields = req.query_string();
            if fields != "tweet.fields=public_metrics" {
                return error(
                    400,
                    json!({ "title": "Invalid Request", "detail": format!("asked for {fields}") }),
                );
            }
            let id = path.trim_start_matches("/x/2/tweets/");
            s.metrics_reads += 1;
            let n = s.metrics_reads as u64;
            HttpResponse::Ok().json(json!({ "data": { "id": id, "text": "…", "public_metrics": {
                "retweet_count": n, "reply_count": 1, "like_count": 10 * n, "quote_count": 0,
                "bookmark_count": 2, "impression_count": 1000 * n } } }))
        }
        ("GET", "/instagram/me") => HttpResponse::Ok().json(json!({ "user_id": IG_USER, "username": "creo.studio" })),
        ("POST", path) if path == format!("/instagram/{IG_USER}/media") => {
            if let Some(canned) = s.next_publish.pop_front() {
                return canned_answer(canned);
            }
            let carousel = form.get("media_type").map(String::as_str) == Some("CAROUSEL");
            let item = form.get("is_carousel_item").map(String::as_str) == Some("true");
            let shaped = (carousel && form.contains_key("children") && form.contains_key("caption"))
                || (item && form.get("image_url").is_some_and(|u| u.starts_with("https://")))
                || (form.get("image_url").is_some_and(|u| u.starts_with("https://")) && form.contains_key("caption"));
            if !shaped {
                return error(400, json!({ "error": { "message": format!("bad container {form:?}"), "type": "OAuthException", "code": 100 } }));
            }
            s.issued += 1;
            let id = format!("c_{}", s.issued);
            s.containers.insert(id.clone(), 0);
            HttpResponse::Ok().json(json!({ "id": id }))
        }
        ("GET", path) if path.starts_with("/instagram/c_") => {
            let id = path.trim_start_matches("/instagram/");
            let Some(checks) = s.containers.get_mut(id) else {
                return error(400, json!({ "error": { "message": "no such container", "code": 100 } }));
            };
            *checks += 1;
            // Processing at the first look, ready at the second.
            let status = if *checks == 1 { "IN_PROGRESS" } else { "FINISHED" };
            HttpResponse::Ok().json(json!({ "status_code": status, "id": id }))
        }
        ("POST", path) if path == format!("/instagram/{IG_USER}/media_publish") => {
            let ready = form.get("creation_id").and_then(|c| s.containers.get(c)).is_some_and(|n| *n >= 2);
            if !ready {
                return error(400, json!({ "error": { "message": "Media ID is not available", "code": 9007 } }));
            }
            s.issued += 1;
            HttpResponse::Ok().json(json!({ "id": format!("1790000{:04}", s.issued) }))
        }
        ("GET", path) if path.starts_with("/instagram/1790000") && query.get("fields").map(String::as_str) == Some("permalink") => {
            HttpResponse::Ok().json(json!({ "permalink": "https://www.instagram.com/p/C0ffee/", "id": path.trim_start_matches("/instagram/") }))
        }
        ("GET", "/x/2/users/me") => HttpResponse::Ok().json(
            json!({ "data": { "id": "2244994945", "name": "Creo", "username": "creo_team" } }),
        ),
        ("GET", "/linkedin/v2/userinfo") => {
            HttpResponse::Ok().json(json!({ "sub": "782bbtaQ", "name": "Ada Lovelace" }))
        }
        ("POST", "/x/2/media/upload") => {
            // multipart/form-data: the category, and the image's raw bytes as `media`.
            let multipart = headers.get("content-type").is_some_and(|c| c.starts_with("multipart/form-data; boundary="));
            let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
            let well_formed = multipart
                && has(b"name=\"media_category\"\r\n\r\ntweet_image")
                && has(b"name=\"media\"")
                && has(b"Content-Type: image/jpeg")
                && has(&photo());
            if !well_formed {
                return error(400, json!({ "title": "Invalid Request", "detail": "media and media_category are required" }));
            }
            s.issued += 1;
            let id = format!("18800000000000000{:02}", s.issued);
            s.x_media.insert(id.clone());
            HttpResponse::Ok().json(json!({ "data": { "id": id, "media_key": format!("3_{id}"), "size": photo().len(), "expires_after_secs": 86400 } }))
        }
        ("POST", "/x/2/tweets") => {
            if let Some(canned) = s.next_publish.pop_front() {
                return canned_answer(canned);
            }
            let named = seen.json()["media"]["media_ids"].as_array().cloned().unwrap_or_default();
            if !named.iter().all(|id| id.as_str().is_some_and(|id| s.x_media.contains(id))) {
                return error(400, json!({ "title": "Invalid Request", "detail": "Your media IDs are invalid." }));
            }
            let text = seen.json()["text"].as_str().map(str::to_string);
            match text {
                Some(text)
                    if !text.is_empty()
                        && headers
                            .get("content-type")
                            .is_some_and(|c| c.starts_with("application/json")) =>
                {
                    s.issued += 1;
                    HttpResponse::Created().json(json!({ "data": { "id": format!("17{:08}", s.issued), "text": text, "edit_history_tweet_ids": [] } }))
                }
                _ => error(
                    400,
                    json!({ "title": "Invalid Request", "detail": "text is required" }),
                ),
            }
        }
        ("GET", "/linkedin/rest/memberCreatorPostAnalytics") => {
            let entity = query.get("entity").cloned().unwrap_or_default();
            let urn_ok = entity
                .strip_prefix("(share:urn:li:share:")
                .and_then(|rest| rest.strip_suffix(')'))
                .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()));
            let count = match query.get("queryType").map(String::as_str) {
                Some("IMPRESSION") => 900,
                Some("MEMBERS_REACHED") => 600,
                Some("REACTION") => 30,
                Some("COMMENT") => 4,
                Some("RESHARE") => 2,
                _ => 0,
            };
            let versioned = headers.contains_key("linkedin-version");
            if !urn_ok || count == 0 || query.get("q").map(String::as_str) != Some("entity") || !versioned {
                return error(400, json!({ "status": 400, "message": format!("bad analytics query {query:?}") }));
            }
            HttpResponse::Ok().json(json!({ "paging": { "start": 0, "count": 10, "links": [] }, "elements": [{
                "count": count,
                "metricType": { "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1": query["queryType"] } }] }))
        }
        ("POST", "/linkedin/rest/images") if query.get("action").map(String::as_str) == Some("initializeUpload") => {
            let versioned = headers.contains_key("linkedin-version") && headers.get("x-restli-protocol-version").map(String::as_str) == Some("2.0.0");
            if !versioned || seen.json()["initializeUploadRequest"]["owner"] != "urn:li:person:782bbtaQ" {
                return error(422, json!({ "status": 422, "message": format!("bad upload request {}", seen.json()) }));
            }
            s.issued += 1;
            let n = s.issued;
            let urn = format!("urn:li:image:C4E10AQ{n}");
            s.linkedin_images.insert(urn.clone(), false);
            let host = req.connection_info().host().to_string();
            HttpResponse::Ok().json(json!({ "value": {
                "uploadUrlExpiresAt": 1_900_000_000_000u64,
                "uploadUrl": format!("http://{host}/linkedin/dms-uploads/{n}"),
                "image": urn } }))
        }
        ("PUT", path) if path.starts_with("/linkedin/dms-uploads/") => {
            let urn = format!("urn:li:image:C4E10AQ{}", path.trim_start_matches("/linkedin/dms-uploads/"));
            match s.linkedin_images.get_mut(&urn) {
                Some(arrived) if body[..] == photo()[..] => {
                    *arrived = true;
                    HttpResponse::Created().finish()
                }
                _ => error(400, json!({ "status": 400, "message": "no such upload, or not the image" })),
            }
        }
        ("POST", "/linkedin/rest/posts") => {
            let post = seen.json();
            let versioned = headers
                .get("linkedin-version")
                .is_some_and(|v| v.len() == 6 && v.chars().all(|c| c.is_ascii_digit()));
            let restli =
                headers.get("x-restli-protocol-version").map(String::as_str) == Some("2.0.0");
            if !versioned || !restli {
                return error(
                    426,
                    json!({ "status": 426, "message": "A valid LinkedIn-Version and X-Restli-Protocol-Version are required" }),
                );
            }
            if let Some(canned) = s.next_publish.pop_front() {
                return canned_answer(canned);
            }
            let content = &post["content"];
            let mut images: Vec<&Value> = content["multiImage"]["images"].as_array().map(|i| i.iter().map(|i| &i["id"]).collect()).unwrap_or_default();
            if !content["media"]["id"].is_null() {
                images.push(&content["media"]["id"]);
            }
            let uploaded = images.iter().all(|id| id.as_str().and_then(|id| s.linkedin_images.get(id)).copied().unwrap_or(false));
            let well_formed = uploaded
                && post["author"] == "urn:li:person:782bbtaQ"
                && post["commentary"].is_string()
                && post["visibility"] == "PUBLIC"
                && post["distribution"]["feedDistribution"] == "MAIN_FEED"
                && post["lifecycleState"] == "PUBLISHED";
            if !well_formed {
                return error(
                    422,
                    json!({ "status": 422, "message": format!("malformed post {post}") }),
                );
            }
            s.issued += 1;
            HttpResponse::Created()
                .insert_header(("x-restli-id", format!("urn:li:share:70{:08}", s.issued)))
                .finish()
        }
        _ => others(&mut s, &req, &seen, &query, &form),
    }
}

/// Facebook, Pinterest, TikTok and YouTube, for a request with a token they issued.
fn others(
    s: &mut State,
    req: &HttpRequest,
    seen: &Seen,
    query: &HashMap<String, String>,
    form: &HashMap<String, String>,
) -> HttpResponse {
    let bearer = seen.headers["authorization"]
        .trim_start_matches("Bearer ")
        .to_string();
    let page_token = bearer.starts_with("page_");
    let body = seen.json();
    let graph_error = |status: u16, code: i64, message: String| {
        error(
            status,
            json!({ "error": { "message": message, "type": "OAuthException", "code": code } }),
        )
    };
    match (seen.method.as_str(), seen.path.as_str()) {
        // Facebook: the person's Pages, each with its own token; with a Page token, /me is the Page.
        ("GET", "/facebook/me/accounts") if !page_token => {
            for page in ["page_ro", "page_studio"] {
                s.access.insert(page.to_string());
            }
            HttpResponse::Ok().json(json!({ "data": [
                { "id": "1111", "name": "Read-only Page", "access_token": "page_ro", "tasks": ["ANALYZE"] },
                { "id": FB_PAGE, "name": "Creo Studio", "access_token": "page_studio",
                  "tasks": ["ANALYZE", "ADVERTISE", "MODERATE", "CREATE_CONTENT", "MANAGE"] },
            ] }))
        }
        ("GET", "/facebook/me") if page_token => HttpResponse::Ok().json(json!({ "id": FB_PAGE, "name": "Creo Studio" })),
        ("POST", path) if path.starts_with(&format!("/facebook/{FB_PAGE}/")) => {
            if bearer != "page_studio" {
                return graph_error(403, 200, "(#200) requires a Page access token of a Page you manage".into());
            }
            if let Some(canned) = s.next_publish.pop_front() {
                return canned_answer(canned);
            }
            s.issued += 1;
            let n = s.issued;
            match path.trim_start_matches(&format!("/facebook/{FB_PAGE}/")) {
                "photos" if form.get("url").is_some_and(|u| u.starts_with("https://")) => {
                    if form.get("published").map(String::as_str) == Some("false") {
                        HttpResponse::Ok().json(json!({ "id": format!("photo_{n}") }))
                    } else if form.contains_key("message") {
                        HttpResponse::Ok().json(json!({ "id": format!("photo_{n}"), "post_id": format!("{FB_PAGE}_{n}") }))
                    } else {
                        graph_error(400, 100, "a published photo here always has a message".into())
                    }
                }
                "feed" if form.contains_key("message") => {
                    let attached: Vec<&String> = (0..10).filter_map(|i| form.get(&format!("attached_media[{i}]"))).collect();
                    let well_formed = attached.iter().all(|a| serde_json::from_str::<Value>(a).is_ok_and(|v| v["media_fbid"].as_str().is_some_and(|id| id.starts_with("photo_"))));
                    if !well_formed {
                        return graph_error(400, 100, format!("bad attached_media {attached:?}"));
                    }
                    HttpResponse::Ok().json(json!({ "id": format!("{FB_PAGE}_{n}") }))
                }
                other => graph_error(400, 100, format!("malformed {other}: {form:?}")),
            }
        }
        ("GET", path) if path.starts_with(&format!("/facebook/{FB_PAGE}_")) => {
            let metric = |name: &str, value: u64| json!({ "name": name, "period": "lifetime", "values": [{ "value": value }] });
            if path.ends_with("/insights") {
                if query.get("metric").map(String::as_str) != Some("post_impressions,post_impressions_unique,post_clicks") {
                    return graph_error(400, 100, format!("unknown metrics {query:?}"));
                }
                return HttpResponse::Ok().json(json!({ "data": [
                    metric("post_impressions", 700), metric("post_impressions_unique", 450), metric("post_clicks", 12) ] }));
            }
            if !query.get("fields").is_some_and(|f| f.contains("reactions.summary(total_count)")) {
                return graph_error(400, 100, format!("unknown fields {query:?}"));
            }
            HttpResponse::Ok().json(json!({ "id": path.trim_start_matches("/facebook/"), "shares": { "count": 3 },
                "reactions": { "data": [], "summary": { "total_count": 25 } },
                "comments": { "data": [], "summary": { "total_count": 4 } } }))
        }
        ("GET", path) if path.starts_with("/instagram/1790000") && path.ends_with("/insights") => {
            if query.get("metric").map(String::as_str) != Some("views,reach,likes,comments,shares,saved") {
                return graph_error(400, 100, format!("unknown metrics {query:?}"));
            }
            let metric = |name: &str, value: u64| json!({ "name": name, "period": "lifetime", "values": [{ "value": value }] });
            HttpResponse::Ok().json(json!({ "data": [metric("views", 800), metric("reach", 500), metric("likes", 40),
                metric("comments", 3), metric("shares", 2), metric("saved", 5)] }))
        }
        ("POST", "/tiktok/v2/video/query/") => {
            let ids = body["filters"]["video_ids"].as_array().cloned().unwrap_or_default();
            if !query.get("fields").is_some_and(|f| f.contains("view_count")) || ids.len() != 1 {
                return error(400, json!({ "error": { "code": "invalid_params", "message": format!("{query:?} {body}"), "log_id": "7" } }));
            }
            HttpResponse::Ok().json(json!({ "data": { "videos": [{ "id": ids[0], "view_count": 5000, "like_count": 300,
                "comment_count": 20, "share_count": 10 }], "cursor": 0, "has_more": false },
                "error": { "code": "ok", "message": "", "log_id": "8" } }))
        }
        // Pinterest.
        ("GET", "/pinterest/v5/user_account") => HttpResponse::Ok().json(json!({ "username": "creostudio", "account_type": "BUSINESS" })),
        ("GET", "/pinterest/v5/boards") => HttpResponse::Ok().json(json!({ "items": [
            { "id": BOARD, "name": "Launches", "privacy": "PUBLIC" } ], "bookmark": null })),
        ("POST", "/pinterest/v5/pins") => {
            if let Some(canned) = s.next_publish.pop_front() {
                return canned_answer(canned);
            }
            let source = &body["media_source"];
            let image = (source["source_type"] == "image_url" && source["url"].as_str().is_some_and(|u| u.starts_with("https://")))
                || (source["source_type"] == "multiple_image_urls" && source["items"].as_array().is_some_and(|i| (2..=5).contains(&i.len())));
            if body["board_id"] != BOARD || !body["description"].is_string() || !body["title"].is_string() || !image {
                return error(400, json!({ "code": 1, "message": format!("Invalid parameters: {body}") }));
            }
            s.issued += 1;
            HttpResponse::Created().json(json!({ "id": format!("81394{:08}", s.issued), "board_id": BOARD }))
        }
        ("GET", path) if path.starts_with("/pinterest/v5/pins/") && path.ends_with("/analytics") => {
            let dated = |k: &str| query.get(k).is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
            if !dated("start_date") || !dated("end_date") || !query.get("metric_types").is_some_and(|m| m.contains("IMPRESSION")) {
                return error(400, json!({ "code": 1, "message": format!("Invalid parameters: {query:?}") }));
            }
            s.metrics_reads += 1;
            let n = s.metrics_reads as u64;
            HttpResponse::Ok().json(json!({ "all": { "daily_metrics": [], "summary_metrics": {
                "IMPRESSION": 500 * n, "SAVE": 3, "PIN_CLICK": 7, "OUTBOUND_CLICK": 2 } } }))
        }
        // TikTok.
        ("GET", "/tiktok/v2/user/info/") => HttpResponse::Ok().json(json!({
            "data": { "user": { "open_id": "-000creo", "display_name": "Creo Studio" } },
            "error": { "code": "ok", "message": "", "log_id": "1" } })),
        ("POST", "/tiktok/v2/post/publish/creator_info/query/") => HttpResponse::Ok().json(json!({
            "data": { "creator_username": "creo.studio", "creator_nickname": "Creo",
                      "privacy_level_options": ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"],
                      "max_video_post_duration_sec": 600 },
            "error": { "code": "ok", "message": "", "log_id": "2" } })),
        ("POST", "/tiktok/v2/post/publish/video/init/") => {
            if let Some(canned) = s.next_publish.pop_front() {
                return canned_answer(canned);
            }
            let pulled = body["source_info"]["source"] == "PULL_FROM_URL" && body["source_info"]["video_url"].is_string();
            if !pulled || !body["post_info"]["title"].is_string() || !body["post_info"]["privacy_level"].is_string() {
                return error(400, json!({ "error": { "code": "invalid_params", "message": format!("{body}"), "log_id": "3" } }));
            }
            s.issued += 1;
            let id = format!("v_pub_url~v2.{}", s.issued);
            s.tiktok_posts.insert(id.clone(), 0);
            HttpResponse::Ok().json(json!({ "data": { "publish_id": id }, "error": { "code": "ok", "message": "", "log_id": "4" } }))
        }
        ("POST", "/tiktok/v2/post/publish/status/fetch/") => {
            let Some(checks) = body["publish_id"].as_str().and_then(|id| s.tiktok_posts.get_mut(id)) else {
                return error(400, json!({ "error": { "code": "invalid_publish_id", "message": "no such post", "log_id": "5" } }));
            };
            *checks += 1;
            // Downloading at the first look, out at the second.
            let data = if *checks == 1 {
                json!({ "status": "PROCESSING_DOWNLOAD" })
            } else {
                json!({ "status": "PUBLISH_COMPLETE", "publicaly_available_post_id": [7_390_000_000_000_000_000u64] })
            };
            HttpResponse::Ok().json(json!({ "data": data, "error": { "code": "ok", "message": "", "log_id": "6" } }))
        }
        // YouTube.
        ("GET", "/youtube/youtube/v3/channels") if query.get("mine").map(String::as_str) == Some("true") => {
            HttpResponse::Ok().json(json!({ "items": [{ "id": "UCcreo0studio0000000000", "snippet": { "title": "Creo Studio" } }] }))
        }
        ("POST", "/youtube/upload/youtube/v3/videos") => {
            let resumable = query.get("uploadType").map(String::as_str) == Some("resumable")
                && query.get("part").map(String::as_str) == Some("snippet,status");
            let length = seen.headers.get("x-upload-content-length").and_then(|l| l.parse::<u64>().ok());
            let typed = seen.headers.get("x-upload-content-type").is_some_and(|t| t.starts_with("video/"));
            let snippet = &body["snippet"];
            let titled = snippet["title"].as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 100);
            if !resumable || length.is_none() || !typed || !titled || !snippet["description"].is_string() || body["status"]["privacyStatus"] != "public" {
                return error(400, json!({ "error": { "code": 400, "message": format!("bad upload {query:?} {body}"), "errors": [{ "reason": "invalidMetadata" }] } }));
            }
            if let Some(canned) = s.next_publish.pop_front() {
                return canned_answer(canned);
            }
            s.issued += 1;
            let session = format!("{}", s.issued);
            s.uploads.insert(session.clone(), length.unwrap());
            let host = req.connection_info().host().to_string();
            HttpResponse::Ok()
                .insert_header(("Location", format!("http://{host}/youtube/upload/session/{session}")))
                .finish()
        }
        ("PUT", path) if path.starts_with("/youtube/upload/session/") => {
            let session = path.trim_start_matches("/youtube/upload/session/");
            match s.uploads.remove(session) {
                Some(length) if length == seen.body.len() as u64 => {
                    HttpResponse::Ok().json(json!({ "id": format!("vid{:08}", session.parse::<u32>().unwrap()), "kind": "youtube#video" }))
                }
                told => error(400, json!({ "error": { "code": 400, "message": format!("told {told:?}, got {}", seen.body.len()) } })),
            }
        }
        ("GET", "/youtube/youtube/v3/videos") if query.get("part").map(String::as_str) == Some("statistics") => {
            s.metrics_reads += 1;
            let n = s.metrics_reads;
            HttpResponse::Ok().json(json!({ "items": [{ "id": query["id"], "statistics": {
                "viewCount": format!("{}", 1200 * n), "likeCount": "40", "commentCount": "5", "favoriteCount": "0" } }] }))
        }
        _ => error(404, json!({ "message": "no such endpoint" })),
    }
}

fn canned_answer(c: Canned) -> HttpResponse {
    let mut r = HttpResponse::build(actix_web::http::StatusCode::from_u16(c.status).unwrap());
    for (k, v) in c.headers {
        r.insert_header((k, v));
    }
    r.json(c.body)
}

/// How a token endpoint authenticates the client.
enum Client {
    /// HTTP Basic (X, Pinterest).
    Basic,
    /// The id under this name and `client_secret` in the form (LinkedIn, Facebook and Google
    /// say `client_id`, TikTok `client_key`).
    Form(&'static str),
}

/// The token endpoint (RFC 6749 §4.1.3 and §6, RFC 7636 §4.6).
fn token(
    s: &mut State,
    headers: &HashMap<String, String>,
    body: &[u8],
    client: Client,
) -> HttpResponse {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let client_ok = match client {
        Client::Basic => {
            let expected = base64::engine::general_purpose::STANDARD
                .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
            headers.get("authorization").map(String::as_str) == Some(&format!("Basic {expected}"))
        }
        Client::Form(id) => {
            form.get(id).map(String::as_str) == Some(CLIENT_ID)
                && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        }
    };
    if !client_ok {
        return error(401, json!({ "error": "invalid_client" }));
    }
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let (Some(code), Some(verifier)) = (form.get("code"), form.get("code_verifier")) else {
                return error(400, json!({ "error": "invalid_request" }));
            };
            let Some(challenge) = s.codes.remove(code) else {
                return error(
                    400,
                    json!({ "error": "invalid_grant", "error_description": "code used or unknown" }),
                );
            };
            let digest = sha2::Sha256::digest(verifier.as_bytes());
            if base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest) != challenge {
                return error(
                    400,
                    json!({ "error": "invalid_grant", "error_description": "PKCE verification failed" }),
                );
            }
            if !form
                .get("redirect_uri")
                .is_some_and(|r| r.ends_with("/api/v1/channels/oauth/callback"))
            {
                return error(
                    400,
                    json!({ "error": "invalid_grant", "error_description": "redirect_uri mismatch" }),
                );
            }
            issue(s)
        }
        Some("refresh_token") => {
            let presented = form.get("refresh_token").cloned().unwrap_or_default();
            if s.refresh_refused || !s.refresh.remove(&presented) {
                return error(
                    400,
                    json!({ "error": "invalid_grant", "error_description": "refresh token revoked" }),
                );
            }
            issue(s)
        }
        _ => error(400, json!({ "error": "unsupported_grant_type" })),
    }
}

/// New tokens; refresh tokens rotate (each is taken once), as X's do.
fn issue(s: &mut State) -> HttpResponse {
    s.issued += 1;
    let (access, refresh) = (format!("at_{}", s.issued), format!("rt_{}", s.issued));
    s.access.insert(access.clone());
    s.refresh.insert(refresh.clone());
    HttpResponse::Ok().json(json!({
        "token_type": "bearer",
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": s.expires_in,
        "scope": "tweet.read tweet.write users.read offline.access",
    }))
}
