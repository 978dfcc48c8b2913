//! What a run simulates: the command line, and the per-editor plan derived from it.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;

/// Simulates concurrent Yjs editors (sync + awareness protocol, real WebSockets, yrs documents)
/// against creo or any y-websocket-compatible server, and reports latency, throughput,
/// convergence and, given the server's pid, its CPU and memory per connection.
#[derive(Parser, Debug, Clone, Serialize)]
#[command(name = "creo-load", version)]
pub struct Scenario {
    /// WebSocket URL template; `{doc}`, `{token}` and `{user}` are filled in per client.
    /// For @y/websocket-server: `ws://127.0.0.1:1234/{doc}`. Repeat it to spread each
    /// document's editors over several nodes of a cluster (editor k of a document uses URL
    /// k mod n), so that every delivery crosses nodes when editors = nodes.
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws/{doc}?token={token}")]
    pub url: Vec<String>,
    /// Number of documents.
    #[arg(long, short = 'd', default_value_t = 1)]
    pub docs: usize,
    /// Editors per document.
    #[arg(long, short = 'e', default_value_t = 2)]
    pub editors: usize,
    /// Edits per second per editor (0: idle editors).
    #[arg(long, short = 'r', default_value_t = 1.0)]
    pub rate: f64,
    /// Stop each editor after this many edits (the run still lasts --duration).
    #[arg(long)]
    pub max_edits: Option<u64>,
    /// Characters inserted per edit, at a random position.
    #[arg(long, default_value_t = 8)]
    pub edit_size: usize,
    /// Where edits go: `cursor` types at the editor's own cursor, which moves on as it types
    /// and jumps somewhere else one edit in ten (how people write); `random` puts every edit at
    /// a random position (a worst case: no two edits merge into one Yjs item).
    #[arg(long, value_enum, default_value_t = Typing::Cursor)]
    pub typing: Typing,
    /// Awareness (cursor) updates per second per editor.
    #[arg(long, default_value_t = 0.0)]
    pub awareness_rate: f64,
    /// How long editors edit once everyone has joined; the run is always bounded by
    /// ramp-up + duration + settle timeout.
    #[arg(long, short = 't', default_value = "30s", value_parser = humantime::parse_duration)]
    #[serde(with = "secs")]
    pub duration: Duration,
    /// Editors join evenly spread over this time.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    #[serde(with = "secs")]
    pub ramp_up: Duration,
    /// Join/leave churn: how often each editor leaves, per minute on average; a leaving editor
    /// closes its socket, waits --churn-pause, and joins again as a fresh page load.
    #[arg(long, default_value_t = 0.0)]
    pub churn_per_minute: f64,
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    #[serde(with = "secs")]
    pub churn_pause: Duration,
    /// Reconnect storm: this far into the edit phase, drop --storm-percent of the connections
    /// at once (no close frame) and reconnect them immediately, keeping their documents.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "opt_secs")]
    pub storm_at: Option<Duration>,
    #[arg(long, default_value_t = 0.0)]
    pub storm_percent: f64,
    /// Offline editing: this far into the edit phase, --offline-percent of editors lose their
    /// connection, keep editing locally for --offline-for, then reconnect and sync.
    #[arg(long, value_parser = humantime::parse_duration)]
    #[serde(with = "opt_secs")]
    pub offline_at: Option<Duration>,
    #[arg(long, default_value_t = 0.0)]
    pub offline_percent: f64,
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    #[serde(with = "secs")]
    pub offline_for: Duration,
    /// Document names are `{prefix}-{n}`; the default is unique per run.
    #[arg(long)]
    pub doc_prefix: Option<String>,
    /// One token per line, used round-robin; without it tokens are minted with the key creo is
    /// configured with (CREO_JWT_SECRET, CREO_JWT_PRIVATE_KEY, or the dev secret in CREO_DATA).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// Account the minted tokens belong to.
    #[arg(long, default_value = "load")]
    pub account: String,
    /// Worker threads of the load tool itself.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// After the edit phase, wait this long at most for every edit to arrive everywhere.
    #[arg(long, default_value = "15s", value_parser = humantime::parse_duration)]
    #[serde(with = "secs")]
    pub settle_timeout: Duration,
    /// Give up on a connection attempt after this long.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    #[serde(with = "secs")]
    pub connect_timeout: Duration,
    /// The server's pid: report its CPU seconds per delivered update and RSS per connection
    /// (read from /proc; the server must run on this machine). Repeat it for a cluster: the
    /// figures are the nodes' sums.
    #[arg(long)]
    pub server_pid: Vec<u32>,
    /// The server's Prometheus endpoint: report how its counters moved during the run.
    #[arg(long)]
    pub metrics_url: Option<String>,
    /// Write the full report as JSON to this file (`-` for stdout).
    #[arg(long)]
    #[serde(skip)]
    pub json: Option<PathBuf>,
    /// A name for this run in the report.
    #[arg(long, default_value = "")]
    pub label: String,
    /// No progress bar (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    #[serde(skip)]
    pub quiet: bool,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Typing {
    Cursor,
    Random,
}

impl Scenario {
    pub fn clients(&self) -> usize {
        self.docs * self.editors
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.docs > 0 && self.editors > 0,
            "--docs and --editors must be > 0"
        );
        anyhow::ensure!(self.threads > 0, "--threads must be > 0");
        anyhow::ensure!(
            self.rate >= 0.0 && self.awareness_rate >= 0.0 && self.churn_per_minute >= 0.0,
            "rates must not be negative"
        );
        anyhow::ensure!(self.edit_size > 0, "--edit-size must be > 0");
        for p in [self.storm_percent, self.offline_percent] {
            anyhow::ensure!(
                (0.0..=100.0).contains(&p),
                "percentages must be within 0..=100"
            );
        }
        if let Some(at) = self.offline_at {
            anyhow::ensure!(
                at + self.offline_for <= self.duration,
                "--offline-at + --offline-for must end within --duration"
            );
        }
        Ok(())
    }

    /// Whether client `index` belongs to the first `percent` of clients, spread evenly over
    /// documents so each affected document keeps some connected editors when below 100%.
    pub fn selected(&self, index: usize, percent: f64) -> bool {
        let n = self.clients();
        let picked = ((n as f64) * percent / 100.0).round() as usize;
        // Walk editors document-major: editor 0 of every document first, then editor 1, ...
        let rank = (index % self.editors) * self.docs + index / self.editors;
        rank < picked
    }
}

mod secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

mod opt_secs {
    pub fn serialize<S: serde::Serializer>(
        d: &Option<std::time::Duration>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_f64(d.as_secs_f64()),
            None => s.serialize_none(),
        }
    }
}
