//! The official `yjs` + `y-websocket` npm packages, in Node, against the running server.

use std::process::Command;

use creo::auth::Role;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_y_websocket_clients_converge_and_see_presence() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/y-websocket").exists(),
        "run `npm ci --prefix tests/interop` first (scripts/test.sh does)"
    );
    let server = Server::start();
    let ws = format!("{}/ws", server.base.replace("http://", "ws://"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("interop.mjs")
            .current_dir(&dir)
            .env("CREO_WS", ws)
            .env("DOC", "interop-doc")
            .env("TOKEN_A", token("acme", "alice", Role::Editor))
            .env("TOKEN_B", token("acme", "bob", Role::Editor))
            .env("TOKEN_VIEWER", token("acme", "vera", Role::Viewer))
            .env("USER_A", "alice")
            .env("USER_B", "bob")
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "interop checks failed:\n{stdout}");
    assert!(stdout.contains("interop: all checks passed"));
}
