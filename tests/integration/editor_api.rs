//! What the browser editor needs from the server beyond the Yjs socket: an account's document
//! list with titles and workflow states, documents made with server ids, and the built editor
//! served at `/`: compressed copies chosen by `Accept-Encoding`, hashed assets cached for a year,
//! the page itself never cached, every other address of the editor answered by `index.html`,
//! and a missing file a 404 (not the page).

use reqwest::Method;
use serde_json::json;

use crate::common::{http, upgrade_status, Server};
use crate::rest::{self, call, get, member, post, register};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_lists_its_documents_with_their_workflow_state() {
    let server = rest::start();
    let owner = register(&server, "lister@example.com").await;
    let editor = member(&server, &owner, "lister-editor@example.com", "editor").await;
    let stranger = register(&server, "lister-stranger@example.com").await;
    for id in ["list-draft", "list-review"] {
        let (s, v) = post(
            &server,
            "/api/v1/documents",
            &owner.access,
            json!({ "id": id }),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let (s, _) = post(
        &server,
        "/api/v1/documents",
        &stranger.access,
        json!({ "id": "list-theirs" }),
    )
    .await;
    assert_eq!(s, 201);
    let (s, v) = post(
        &server,
        "/api/v1/documents/list-review/workflow",
        &editor.access,
        json!({ "action": "submit" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    let (s, v) = get(&server, "/api/v1/documents", &editor.access).await;
    assert_eq!(s, 200, "{v}");
    let listed: Vec<(String, String)> = v["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["doc_id"].as_str().unwrap().to_string(),
                d["workflow_state"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&("list-draft".into(), "draft".into())));
    assert!(listed.contains(&("list-review".into(), "in_review".into())));

    let (_, v) = get(&server, "/api/v1/documents?limit=1", &owner.access).await;
    assert_eq!(v["documents"].as_array().unwrap().len(), 1);
    let (_, v) = get(&server, "/api/v1/documents", &stranger.access).await;
    assert_eq!(v["documents"][0]["doc_id"], "list-theirs");
    assert_eq!(v["documents"].as_array().unwrap().len(), 1);
    let (s, _, _) = call(&server, Method::GET, "/api/v1/documents", None, None).await;
    assert_eq!(s, 401);
}

/// People name documents; the server names ids. Titles are any Unicode, duplicates are fine,
/// and nobody creates a document by mistyping an address in the editor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_get_server_ids_and_editable_unicode_titles() {
    let server = rest::start();
    let owner = register(&server, "titles@example.com").await;
    let viewer = member(&server, &owner, "titles-viewer@example.com", "viewer").await;
    let mut ids = Vec::new();
    for title in ["春のセール", "春のセール", "Spring launch!"] {
        let (s, v) = post(
            &server,
            "/api/v1/documents",
            &owner.access,
            json!({ "title": title }),
        )
        .await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(v["title"], title);
        ids.push(v["doc_id"].as_str().unwrap().to_string());
    }
    assert_ne!(ids[0], ids[1], "the same title twice is two documents");
    for bad in ["", "   ", "line\nbreak", &"x".repeat(201)] {
        let (s, v) = post(
            &server,
            "/api/v1/documents",
            &owner.access,
            json!({ "title": bad }),
        )
        .await;
        assert_eq!((s, v["error"]["code"].as_str()), (400, Some("bad_title")));
    }

    let (s, v, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/documents/{}/title", ids[2]),
        Some(&owner.access),
        Some(json!({ "title": "Spring launch — final" })),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, _, _) = call(
        &server,
        Method::PUT,
        &format!("/api/v1/documents/{}/title", ids[2]),
        Some(&viewer.access),
        Some(json!({ "title": "Vandalised" })),
    )
    .await;
    assert_eq!(s, 403, "a viewer cannot rename");
    let (_, v) = get(
        &server,
        &format!("/api/v1/documents/{}", ids[2]),
        &viewer.access,
    )
    .await;
    assert_eq!(v["title"], "Spring launch — final");
    let (_, v) = get(&server, "/api/v1/documents", &viewer.access).await;
    let mut titles: Vec<&str> = v["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(
        titles,
        ["Spring launch — final", "春のセール", "春のセール"]
    );

    // The editor opens sockets with create=0: an unknown id is a 404 even for the owner, and
    // nothing is created. Without it an editor still creates by opening (y-websocket apps).
    let typo = format!("{}&create=0", server.ws("d_mistyped", &owner.access));
    assert_eq!(upgrade_status(&typo).await, 404);
    let (s, _) = get(&server, "/api/v1/documents/d_mistyped", &owner.access).await;
    assert_eq!(s, 404);
    let (_, v) = get(&server, "/api/v1/documents", &owner.access).await;
    assert_eq!(v["documents"].as_array().unwrap().len(), 3);
    assert_eq!(
        upgrade_status(&server.ws("d_new_by_viewer", &viewer.access)).await,
        404
    );
}

/// A built editor as `npm run build` leaves it: the page, one hashed asset and its brotli and
/// gzip copies (marked so the test can tell which was sent).
fn dist() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><title>creo</title>",
    )
    .unwrap();
    std::fs::write(dir.path().join("favicon.svg"), "<svg/>").unwrap();
    let asset = dir.path().join("assets/index-abc123.js");
    std::fs::write(&asset, "console.log('raw')").unwrap();
    std::fs::write(asset.with_extension("js.br"), "brotli bytes").unwrap();
    std::fs::write(asset.with_extension("js.gz"), "gzip bytes").unwrap();
    dir
}

async fn fetch(server: &Server, path: &str, encodings: &str) -> reqwest::Response {
    http()
        .get(server.url(path))
        .header("accept-encoding", encodings)
        .send()
        .await
        .unwrap()
}

fn header<'a>(response: &'a reqwest::Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_editor_is_served_compressed_cached_and_without_fallbacks_for_missing_files() {
    let dist = dist();
    let server = Server::start_with(&[("CREO_FRONTEND", dist.path().to_str().unwrap())]);

    let asset = "/assets/index-abc123.js";
    let br = fetch(&server, asset, "gzip, deflate, br").await;
    assert_eq!(br.status(), 200);
    assert_eq!(header(&br, "content-encoding"), "br");
    assert!(header(&br, "content-type").contains("javascript"));
    assert!(header(&br, "cache-control").contains("immutable"));
    assert!(header(&br, "cache-control").contains("max-age=31536000"));
    assert_eq!(header(&br, "vary"), "Accept-Encoding");
    assert_eq!(br.text().await.unwrap(), "brotli bytes");

    let gz = fetch(&server, asset, "gzip").await;
    assert_eq!(header(&gz, "content-encoding"), "gzip");
    assert_eq!(gz.text().await.unwrap(), "gzip bytes");
    let refused = fetch(&server, asset, "gzip;q=0, br;q=0").await;
    assert_eq!(header(&refused, "content-encoding"), "");
    assert_eq!(refused.text().await.unwrap(), "console.log('raw')");

    for page in ["/", "/index.html", "/some/editor/address"] {
        let response = fetch(&server, page, "br").await;
        assert_eq!(response.status(), 200, "{page}");
        assert_eq!(header(&response, "cache-control"), "no-cache", "{page}");
        assert!(response
            .text()
            .await
            .unwrap()
            .contains("<title>creo</title>"));
    }
    let icon = fetch(&server, "/favicon.svg", "").await;
    assert!(header(&icon, "content-type").starts_with("image/svg"));

    // Files that are not there are not the page: a stale asset, a source map, a favicon.ico,
    // an unknown API address, hidden files and escapes.
    for missing in [
        "/assets/index-old.js",
        "/assets/index-abc123.js.map",
        "/favicon.ico",
        "/api/v1/no-such-thing",
        "/.env",
        "/assets/..%2F..%2Fetc%2Fpasswd",
    ] {
        let response = fetch(&server, missing, "br").await;
        assert_eq!(response.status(), 404, "{missing}");
        assert!(
            !response.text().await.unwrap().contains("<title>creo"),
            "{missing}"
        );
    }
    // The API and the socket route still answer beside it.
    assert_eq!(fetch(&server, "/healthz", "").await.status(), 200);
    assert_eq!(fetch(&server, "/ws/launch-post", "").await.status(), 401);
}

/// Duplicating a post: a new document in the same account with the text as it is now, its own
/// id, "Copy of …" as title, and no comments or workflow of the original's. A viewer may not,
/// nor a token for one document, nor anyone outside the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_is_duplicated_into_a_new_draft_with_its_text() {
    let server = rest::start();
    let owner = register(&server, "dup@example.com").await;
    let viewer = member(&server, &owner, "dup-viewer@example.com", "viewer").await;
    let stranger = register(&server, "dup-stranger@example.com").await;
    let (s, v) = post(
        &server,
        "/api/v1/documents",
        &owner.access,
        json!({ "id": "dup-src", "title": "Spring launch" }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let c = crate::common::YClient::connect(&server.ws("dup-src", &owner.access)).await;
    assert!(c.synced().await);
    c.append("Fresh flowers, every Friday");
    assert!(c.wait(5, |_| true).await);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (s, _) = post(
        &server,
        "/api/v1/documents/dup-src/workflow",
        &owner.access,
        json!({ "action": "submit" }),
    )
    .await;
    assert_eq!(s, 200);

    let (s, copy) = post(
        &server,
        "/api/v1/documents/dup-src/duplicate",
        &owner.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 201, "{copy}");
    let id = copy["doc_id"].as_str().unwrap().to_string();
    assert_ne!(id, "dup-src");
    assert_eq!(copy["title"], "Copy of Spring launch");
    let reader = crate::common::YClient::connect(&server.ws(&id, &owner.access)).await;
    assert!(reader.synced().await);
    assert!(
        reader
            .wait(5, |_| reader.text() == "Fresh flowers, every Friday")
            .await,
        "the copy holds the text: {:?}",
        reader.text()
    );
    let (_, workflow) = get(
        &server,
        &format!("/api/v1/documents/{id}/workflow"),
        &owner.access,
    )
    .await;
    assert_eq!(
        workflow["workflow"]["state"], "draft",
        "the copy starts as a draft"
    );
    // Editing the copy leaves the original alone.
    reader.append(" (copy)");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(c.text(), "Fresh flowers, every Friday");

    let (s, v) = post(
        &server,
        "/api/v1/documents/dup-src/duplicate",
        &owner.access,
        json!({ "title": "Autumn launch" }),
    )
    .await;
    assert_eq!(
        (s, v["title"].as_str()),
        (201, Some("Autumn launch")),
        "{v}"
    );
    let (s, _) = post(
        &server,
        "/api/v1/documents/dup-src/duplicate",
        &viewer.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 403, "a viewer makes no copies");
    let (s, _) = post(
        &server,
        "/api/v1/documents/dup-src/duplicate",
        &stranger.access,
        json!({}),
    )
    .await;
    assert_eq!(s, 404, "another account's document is not there");
    let scoped = crate::common::doc_token(
        &owner.account_id,
        &owner.user_id,
        creo::auth::Role::Editor,
        "dup-src",
    );
    let (s, v) = post(
        &server,
        "/api/v1/documents/dup-src/duplicate",
        &scoped,
        json!({}),
    )
    .await;
    assert_eq!(s, 403, "a token for one document makes no other: {v}");
}

/// Deleting a post: only owners and admins may; its open editors are closed (4404, final), it
/// is gone from every list and endpoint, its scheduled publication never goes out, and its id
/// can be used again from scratch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_post_is_gone_everywhere_and_its_schedule_never_fires() {
    use crate::rest::{call, get, post, register};
    let dest = crate::receiver::receiver(|_| (200, std::time::Duration::ZERO)).await;
    let mut env = crate::rest::billing_env();
    env.push(("CREO_PUBLISH_WEBHOOK_URL", &dest.url));
    let server = crate::common::Server::start_with(&env);
    let owner = register(&server, "owner@example.com").await;
    let editor = crate::rest::member(&server, &owner, "editor@example.com", "editor").await;
    let (s, _) = post(
        &server,
        "/api/v1/documents",
        &owner.access,
        serde_json::json!({ "id": "doomed", "title": "Doomed" }),
    )
    .await;
    assert_eq!(s, 201);
    let open = crate::common::YClient::connect(&server.ws("doomed", &editor.access)).await;
    assert!(open.synced().await);
    open.append("Going out in three seconds");
    assert!(open.wait(5, |_| true).await);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (s, _) = post(
        &server,
        "/api/v1/documents/doomed/comments",
        &editor.access,
        serde_json::json!({ "body": "Looks good" }),
    )
    .await;
    assert_eq!(s, 201);
    for action in ["submit", "approve"] {
        assert_eq!(
            post(
                &server,
                "/api/v1/documents/doomed/workflow",
                &owner.access,
                serde_json::json!({ "action": action })
            )
            .await
            .0,
            200
        );
    }
    let at = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    let (s, v) = post(
        &server,
        "/api/v1/documents/doomed/workflow",
        &owner.access,
        serde_json::json!({ "action": "schedule", "at": at, "timezone": "UTC" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");

    let (s, _, _) = call(
        &server,
        reqwest::Method::DELETE,
        "/api/v1/documents/doomed",
        Some(&editor.access),
        None,
    )
    .await;
    assert_eq!(s, 403, "editors do not delete");
    let (s, _, _) = call(
        &server,
        reqwest::Method::DELETE,
        "/api/v1/documents/doomed",
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(s, 204);
    assert_eq!(
        open.closed_with(5).await,
        Some(4404),
        "its editor is told it is gone"
    );
    for path in [
        "/api/v1/documents/doomed",
        "/api/v1/documents/doomed/comments",
        "/api/v1/documents/doomed/workflow",
        "/api/v1/documents/doomed/versions",
    ] {
        assert_eq!(get(&server, path, &owner.access).await.0, 404, "{path}");
    }
    let (_, list) = get(&server, "/api/v1/documents", &owner.access).await;
    assert!(list["documents"].as_array().unwrap().is_empty(), "{list}");
    let (s, _, _) = call(
        &server,
        reqwest::Method::DELETE,
        "/api/v1/documents/doomed",
        Some(&owner.access),
        None,
    )
    .await;
    assert_eq!(s, 404, "once");

    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    assert!(
        dest.got.lock().unwrap().is_empty(),
        "its schedule never fired"
    );
    let (s, _) = post(
        &server,
        "/api/v1/documents",
        &owner.access,
        serde_json::json!({ "id": "doomed" }),
    )
    .await;
    assert_eq!(s, 201, "the id is free again");
    let (_, comments) = get(&server, "/api/v1/documents/doomed/comments", &owner.access).await;
    assert_eq!(
        comments.as_array().expect("a list of threads").len(),
        0,
        "{comments}"
    );
    let (_, w) = get(&server, "/api/v1/documents/doomed/workflow", &owner.access).await;
    assert_eq!(w["workflow"]["state"], "draft", "{w}");
}
