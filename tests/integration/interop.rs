//! The official `yjs` + `y-websocket` npm packages, in Node, against the running server.

use std::process::Command;

use creo::auth::Role;

use crate::common::*;

/// Runs `tests/interop/<script>` in Node against `server`'s WebSocket endpoint, with `env`;
/// panics unless it exits 0, and returns what it printed.
pub async fn run_node(server: &Server, script: &str, env: Vec<(String, String)>) -> String {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop");
    assert!(
        dir.join("node_modules/y-websocket").exists(),
        "run `npm ci --prefix tests/interop` first (scripts/test.sh does)"
    );
    let ws = format!("{}/ws", server.base.replace("http://", "ws://"));
    let script = script.to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .current_dir(&dir)
            .env("CREO_WS", ws)
            .envs(env)
            .output()
            .expect("run node")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Node checks failed:\n{stdout}");
    stdout
}

fn owned(env: &[(&str, &str)]) -> Vec<(String, String)> {
    env.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_y_websocket_clients_converge_and_see_presence() {
    let server = Server::start();
    let stdout = run_node(
        &server,
        "interop.mjs",
        owned(&[
            ("DOC", "interop-doc"),
            ("TOKEN_A", &token("acme", "alice", Role::Editor)),
            ("TOKEN_B", &token("acme", "bob", Role::Editor)),
            ("TOKEN_VIEWER", &token("acme", "vera", Role::Viewer)),
            ("USER_A", "alice"),
            ("USER_B", "bob"),
        ]),
    )
    .await;
    assert!(stdout.contains("interop: all checks passed"));
}

/// Runs one scenario of `tests/interop/limits.mjs` (the official client against creo's limits)
/// against a server started with `env`.
async fn limits_scenario(scenario: &str, env: &[(&str, &str)], extra: &[(&str, &str)]) {
    let server = Server::start_with(env);
    let mut vars = owned(&[
        ("DOC", &format!("limits-{scenario}")),
        ("TOKEN", &token("acme", "integration", Role::Editor)),
        ("SCENARIO", scenario),
    ]);
    vars.extend(owned(extra));
    run_node(&server, "limits.mjs", vars).await;
}

/// 20,000 updates as fast as the official client sends them: all taken, and the writer is
/// neither cut off nor given up on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_official_client_bursting_20000_updates_stays_connected_and_loses_nothing() {
    limits_scenario("burst", &[], &[]).await;
}

/// Over its rate, the official client is slowed down (the server stops reading it), not
/// closed: 3,000 updates at 500 a second after a burst of 500 take about five seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_official_client_over_its_rate_is_slowed_not_dropped() {
    limits_scenario(
        "burst",
        &[
            ("CREO_SESSION_MESSAGES_PER_SECOND", "500"),
            ("CREO_SESSION_MESSAGE_BURST", "500"),
        ],
        &[("COUNT", "3000")],
    )
    .await;
}

/// A reader that stopped reading fills its queue and is closed with a transient code; the
/// official client reconnects by itself and converges.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_official_client_that_fell_behind_reconnects_and_converges() {
    limits_scenario(
        "fell-behind",
        &[
            ("CREO_OUTBOUND_QUEUE_BYTES", "1048576"),
            ("CREO_SESSION_MESSAGES_PER_SECOND", "100000"),
        ],
        &[],
    )
    .await;
}

/// A silent client is timed out with a transient code and reconnects by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_official_client_timed_out_reconnects_by_itself() {
    limits_scenario(
        "heartbeat",
        &[
            ("CREO_PING_INTERVAL_MS", "100"),
            ("CREO_PING_TIMEOUT_MS", "400"),
        ],
        &[],
    )
    .await;
}
