//! What the browser editor needs from the server beyond the Yjs socket: an account's document
//! list with workflow states, and the built editor served at `/` with every other address of
//! the editor answered by its `index.html`.

use reqwest::Method;
use serde_json::json;

use crate::common::{http, Server};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_built_editor_is_served_at_the_root() {
    let dist = tempfile::tempdir().unwrap();
    std::fs::write(
        dist.path().join("index.html"),
        "<!doctype html><title>creo editor</title>",
    )
    .unwrap();
    std::fs::create_dir(dist.path().join("assets")).unwrap();
    std::fs::write(dist.path().join("assets/app.js"), "console.log('creo')").unwrap();
    let server = Server::start_with(&[("CREO_FRONTEND", dist.path().to_str().unwrap())]);
    let client = http();
    let fetch = |path: &str| {
        let req = client.get(server.url(path));
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let kind = resp
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, kind, resp.text().await.unwrap())
        }
    };
    let (s, kind, body) = fetch("/").await;
    assert_eq!((s, body.contains("creo editor")), (200, true), "{kind}");
    assert!(kind.starts_with("text/html"), "{kind}");
    let (s, kind, _) = fetch("/assets/app.js").await;
    assert_eq!(s, 200);
    assert!(kind.contains("javascript"), "{kind}");
    // Any other address of the editor opens the editor...
    let (s, _, body) = fetch("/doc/launch-post").await;
    assert_eq!((s, body.contains("creo editor")), (200, true));
    // ...but the API still answers its own 404s, and the socket route is untouched.
    let (s, _, body) = fetch("/api/v1/no-such-route").await;
    assert_eq!(s, 404, "{body}");
    assert!(!body.contains("creo editor"));
    let (s, _, _) = fetch("/ws/launch-post").await;
    assert_eq!(s, 401);
}
