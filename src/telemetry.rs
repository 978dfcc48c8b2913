//! Logging (`tracing` to stderr, so stdout stays clean for `creo token`) and the Prometheus
//! recorder behind `/metrics`.

use std::io::IsTerminal;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

pub fn init_logging(default_filter: &str) {
    let filter =
        EnvFilter::try_from_env("CREO_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// Installs the Prometheus recorder once per process (a server run in process, twice, shares it).
pub fn init_metrics() -> anyhow::Result<PrometheusHandle> {
    static INSTALLED: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    if let Some(handle) = INSTALLED.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_seconds".into()),
            &[
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ],
        )?
        .set_buckets_for_metric(
            Matcher::Full("creo_commit_batch_updates".into()),
            &[
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
            ],
        )?
        .set_buckets_for_metric(
            Matcher::Full("creo_store_commit_requests".into()),
            &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0],
        )?
        .install_recorder()?;
    describe();
    // Without the exporter's own HTTP listener nothing else drains histogram buffers.
    let upkeep = handle.clone();
    std::thread::Builder::new()
        .name("creo-metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_secs(5));
            upkeep.run_upkeep();
        })?;
    let _ = INSTALLED.set(handle.clone());
    Ok(handle)
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!("creo_live_documents", "Document actors loaded on this node");
    describe_gauge!("creo_live_sessions", "Open WebSocket sessions on this node");
    describe_gauge!(
        "creo_ws_connections",
        "WebSocket connections whose writer is running on this node"
    );
    describe_counter!(
        "creo_updates_in_total",
        "Document updates accepted from clients"
    );
    describe_counter!(
        "creo_updates_out_total",
        "Document updates delivered to sessions"
    );
    describe_counter!("creo_bytes_in_total", "Bytes of accepted document updates");
    describe_counter!("creo_bytes_out_total", "Bytes of frames queued to sessions");
    describe_counter!("creo_ws_frames_in_total", "WebSocket frames received");
    describe_counter!("creo_ws_frames_out_total", "WebSocket frames written");
    describe_counter!(
        "creo_refused_messages_total",
        "Client messages refused, by reason"
    );
    describe_counter!(
        "creo_refused_connections_total",
        "Connections refused, by reason"
    );
    describe_counter!("creo_auth_failures_total", "Refused tokens, by reason");
    describe_counter!(
        "creo_disconnects_total",
        "Sessions closed by the server, by reason"
    );
    describe_counter!("creo_store_errors_total", "Failed store writes (retried)");
    describe_counter!(
        "creo_compactions_total",
        "Update logs folded into snapshots"
    );
    describe_counter!(
        "creo_document_load_failures_total",
        "Documents that failed to load"
    );
    describe_histogram!(
        "creo_commit_seconds",
        "Latency of one document's group commit"
    );
    describe_histogram!(
        "creo_commit_batch_updates",
        "Updates per document group commit"
    );
    describe_histogram!(
        "creo_store_commit_seconds",
        "Embedded store transaction latency"
    );
    describe_histogram!(
        "creo_store_commit_requests",
        "Requests per embedded store transaction"
    );
    describe_histogram!("creo_document_load_seconds", "Time to load a document");
}
