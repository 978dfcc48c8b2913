//! creo-load against a real creo server on an ephemeral port: what it reports must match what
//! happened (every edit reaches every other editor, storms and offline edits converge).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const SECRET: &str = "creo-load-test-secret-0123456789";

struct Creo {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Creo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The creo binary of this workspace, built if this package is tested alone.
fn creo_bin() -> PathBuf {
    let dir = Path::new(env!("CARGO_BIN_EXE_creo-load")).parent().unwrap();
    let bin = dir.join("creo");
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let release = dir.ends_with("release").then_some("--release");
        let status = Command::new(cargo)
            .args(["build", "-p", "creo", "--bin", "creo"])
            .args(release)
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building creo failed");
    }
    bin
}

fn start_creo() -> Creo {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(creo_bin())
        .arg("serve")
        .env("CREO_ADDR", "127.0.0.1:0")
        .env("CREO_DATA", data.path())
        .env("CREO_JWT_SECRET", SECRET)
        .env("CREO_LOG", "warn,creo::server=info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start creo");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("creo exited before listening").unwrap();
        if let Some(i) = line.find("listening on http://") {
            break line[i + 20..]
                .split_whitespace()
                .next()
                .unwrap()
                .to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Creo {
        child,
        base,
        _data: data,
    }
}

/// Runs creo-load against `creo` with `args`; returns its exit code and JSON report.
fn load(creo: &Creo, args: &[&str]) -> (i32, Value) {
    let out = tempfile::NamedTempFile::new().unwrap();
    let url = format!("ws://{}/ws/{{doc}}?token={{token}}", creo.base);
    let pid = creo.child.id().to_string();
    let metrics = format!("http://{}/metrics", creo.base);
    let status = Command::new(env!("CARGO_BIN_EXE_creo-load"))
        .args(["--url", &url, "--quiet", "--ramp-up", "500ms", "--json"])
        .arg(out.path())
        .args(["--server-pid", &pid, "--metrics-url", &metrics])
        .args(args)
        .env("CREO_JWT_SECRET", SECRET)
        .status()
        .expect("run creo-load");
    let report =
        serde_json::from_str(&std::fs::read_to_string(out.path()).unwrap()).unwrap_or(Value::Null);
    (status.code().unwrap_or(-1), report)
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn every_edit_reaches_every_other_editor_and_documents_converge() {
    let creo = start_creo();
    let (code, r) = load(
        &creo,
        &[
            "--docs",
            "3",
            "--editors",
            "4",
            "--rate",
            "10",
            "--awareness-rate",
            "2",
            "--duration",
            "2s",
        ],
    );
    assert_eq!(code, 0, "report: {r:#}");
    assert_eq!(r["convergence"]["converged"], 3);
    let edits = n(&r["edits"]);
    assert!(
        edits >= 150,
        "12 editors at 10/s for 2 s made only {edits} edits"
    );
    // Each edit reaches the 3 other editors of its document, and each arrival is timed.
    assert_eq!(n(&r["deliveries"]), edits * 3);
    assert_eq!(n(&r["latency_ms"]["count"]), edits * 3);
    assert_eq!(n(&r["first_sync_ms"]["count"]), 12);
    assert!(n(&r["awareness_received"]) > 0);
    assert_eq!(r["errors"], serde_json::json!({}));
    // The server's side, from /proc and /metrics.
    assert!(r["server"]["cpu_seconds"].as_f64().unwrap() > 0.0);
    assert!(r["server"]["rss_loaded_mib"].as_f64().unwrap() > 0.0);
    let counters = r["server_counters"].as_object().unwrap();
    assert!(
        counters.keys().any(|k| k.starts_with("creo_updates")),
        "counters: {counters:?}"
    );
}

#[test]
fn storms_offline_edits_and_churn_still_converge() {
    let creo = start_creo();
    let (code, r) = load(
        &creo,
        &[
            "--docs",
            "4",
            "--editors",
            "3",
            "--rate",
            "8",
            "--duration",
            "4s",
            "--storm-at",
            "1s",
            "--storm-percent",
            "50",
            "--offline-at",
            "1500ms",
            "--offline-percent",
            "25",
            "--offline-for",
            "1500ms",
            "--churn-per-minute",
            "20",
            "--churn-pause",
            "200ms",
        ],
    );
    assert_eq!(code, 0, "report: {r:#}");
    assert_eq!(r["convergence"]["converged"], 4, "report: {r:#}");
    assert!(n(&r["offline_edits"]) > 0, "offline editors kept editing");
    // 6 storm reconnects and 3 returns from offline, at least.
    assert!(n(&r["reconnects"]) >= 9, "reconnects: {}", r["reconnects"]);
    // Offline edits arrive when their editors return; they are delivered but not timed.
    assert!(n(&r["latency_ms"]["count"]) < n(&r["deliveries"]));
}

#[test]
fn refused_tokens_are_counted_by_kind() {
    let creo = start_creo();
    let tokens = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tokens.path(), "not-a-token\n").unwrap();
    let path = tokens.path().to_str().unwrap();
    let (_, r) = load(
        &creo,
        &[
            "--editors",
            "2",
            "--duration",
            "1s",
            "--settle-timeout",
            "1s",
            "--token-file",
            path,
        ],
    );
    assert!(n(&r["errors"]["http_401"]) >= 2, "errors: {}", r["errors"]);
    assert_eq!(n(&r["connects"]), 0);
}
