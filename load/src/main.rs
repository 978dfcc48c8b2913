//! `creo-load`: simulates thousands of concurrent Yjs editors against creo or any
//! y-websocket-compatible server and reports what they saw. See `creo-load --help` and
//! BENCHMARKS.md.

mod editor;
mod probe;
mod report;
mod scenario;
mod stats;

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use creo::auth::{Role, TokenKeys};
use indicatif::{ProgressBar, ProgressStyle};
use tokio::sync::watch;
use tokio::time::Instant;

use editor::{Phase, Shared};
use probe::{counter_deltas, read_proc, scrape, ProcReading};
use report::{Convergence, Report, ServerCost, Summary, ToolCost};
use scenario::Scenario;
use stats::{Stats, Timeline};

fn main() -> ExitCode {
    let scenario = Scenario::parse();
    if let Err(e) = scenario.validate() {
        eprintln!("creo-load: {e}");
        return ExitCode::from(1);
    }
    // Thousands of sockets need more than the usual 1,024 descriptors.
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let runtime = if scenario.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(scenario.threads);
        b
    }
    .enable_all()
    .build()
    .expect("tokio runtime");
    let json = scenario.json.clone();
    let report = match runtime.block_on(run(scenario)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("creo-load: {e:#}");
            return ExitCode::from(1);
        }
    };
    let human = report.human();
    match json.as_deref() {
        Some(p) if p.as_os_str() == "-" => {
            eprint!("{human}");
            println!(
                "{}",
                serde_json::to_string_pretty(&report).expect("report serialises")
            );
        }
        Some(p) => {
            print!("{human}");
            let body = serde_json::to_string_pretty(&report).expect("report serialises");
            if let Err(e) = std::fs::write(p, body) {
                eprintln!("creo-load: writing {}: {e}", p.display());
                return ExitCode::from(1);
            }
        }
        None => print!("{human}"),
    }
    if report.convergence.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

fn user(i: usize) -> String {
    format!("load-{i}")
}

/// One token per client: read from --token-file, or minted with creo's configured key.
fn tokens(s: &Scenario) -> anyhow::Result<Vec<String>> {
    if let Some(path) = &s.token_file {
        let body = std::fs::read_to_string(path)
            .with_context(|| format!("reading tokens from {}", path.display()))?;
        let tokens: Vec<String> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        anyhow::ensure!(!tokens.is_empty(), "{} holds no tokens", path.display());
        return Ok(tokens);
    }
    if !s.url.iter().any(|u| u.contains("{token}")) {
        return Ok(vec![String::new()]);
    }
    let config = creo::config::Config::load().context("reading creo's configuration")?;
    let keys = TokenKeys::from_config(&config).context("loading creo's token key")?;
    let ttl = s.ramp_up + s.duration + s.settle_timeout + Duration::from_secs(600);
    (0..s.clients())
        .map(|i| keys.mint(&user(i), &s.account, Role::Editor, None, ttl))
        .collect()
}

struct Readings {
    server: Option<ProcReading>,
    tool: Option<ProcReading>,
    deliveries: u64,
}

/// The servers' CPU and memory summed (`None` if there is no pid or one cannot be read).
fn server_reading(pids: &[u32]) -> Option<ProcReading> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().try_fold(
        ProcReading {
            cpu_seconds: 0.0,
            rss_bytes: 0,
        },
        |sum, pid| {
            let r = read_proc(&pid.to_string())?;
            Some(ProcReading {
                cpu_seconds: sum.cpu_seconds + r.cpu_seconds,
                rss_bytes: sum.rss_bytes + r.rss_bytes,
            })
        },
    )
}

fn readings(s: &Scenario, stats: &Stats) -> Readings {
    Readings {
        server: server_reading(&s.server_pid),
        tool: read_proc("self"),
        deliveries: stats.deliveries.load(Ordering::Relaxed),
    }
}

/// The progress line: connected editors, deliveries/s, p99 so far and errors.
struct Progress {
    bar: ProgressBar,
    tick: tokio::time::Interval,
    start: Instant,
    clients: usize,
    last: (Instant, u64),
}

impl Progress {
    fn new(s: &Scenario, start: Instant) -> Progress {
        let bar = if s.quiet {
            ProgressBar::hidden()
        } else {
            ProgressBar::new((s.ramp_up + s.duration).as_millis() as u64)
        };
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {msg}")
                .expect("progress template"),
        );
        Progress {
            bar,
            tick: tokio::time::interval(Duration::from_millis(500)),
            start,
            clients: s.clients(),
            last: (Instant::now(), 0),
        }
    }

    async fn wait_until(&mut self, until: Instant, stats: &Stats) {
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return,
                _ = self.tick.tick() => self.show(stats),
            }
        }
    }

    fn show(&mut self, stats: &Stats) {
        if self.bar.is_hidden() {
            return; // nothing to draw: do not copy the latency histogram twice a second
        }
        let now = Instant::now();
        let d = stats.deliveries.load(Ordering::Relaxed);
        let rate =
            (d - self.last.1) as f64 / now.duration_since(self.last.0).as_secs_f64().max(1e-3);
        self.last = (now, d);
        self.bar
            .set_position(now.duration_since(self.start).as_millis() as u64);
        self.bar.set_message(format!(
            "{}/{} connected, {rate:.0} deliveries/s, p99 {:.1} ms, {} errors",
            stats.connected.load(Ordering::Relaxed),
            self.clients,
            stats.latency().value_at_quantile(0.99) as f64 / 1000.0,
            stats.error_count()
        ));
    }
}

async fn run(scenario: Scenario) -> anyhow::Result<Report> {
    let tokens = tokens(&scenario)?;
    let prefix = scenario
        .doc_prefix
        .clone()
        .unwrap_or_else(|| format!("load-{:06x}", rand::random::<u32>() & 0xff_ffff));
    let doc_name = |d: usize| format!("{prefix}-{d}");
    let clients = scenario.clients();
    let metrics_before = match &scenario.metrics_url {
        Some(url) => Some(scrape(url).await.context("scraping --metrics-url")?),
        None => None,
    };
    // A short lead so every editor's first join time is still ahead when it is spawned.
    let start = Instant::now() + Duration::from_millis(100);
    let shared = Arc::new(Shared {
        stats: Stats::new(),
        timelines: (0..scenario.docs).map(|_| Timeline::default()).collect(),
        edit_start: start + scenario.ramp_up,
        scenario,
    });
    let s = &shared.scenario;
    let stats = &shared.stats;
    let before = readings(s, stats);
    let (phase_tx, phase_rx) = watch::channel(Phase::Running);
    let editors: Vec<_> = (0..clients)
        .map(|i| {
            let url = s.url[(i % s.editors) % s.url.len()]
                .replace("{doc}", &doc_name(i / s.editors))
                .replace("{user}", &user(i))
                .replace("{token}", &tokens[i % tokens.len()]);
            tokio::spawn(editor::run(
                i,
                url,
                user(i),
                shared.clone(),
                phase_rx.clone(),
            ))
        })
        .collect();

    let mut progress = Progress::new(s, start);
    progress.wait_until(shared.edit_start, stats).await;
    let window_start = readings(s, stats);
    progress
        .wait_until(shared.edit_start + s.duration, stats)
        .await;
    let window_end = readings(s, stats);
    progress.bar.finish_and_clear();

    // Settle: editing stops; wait until nothing more arrives for a second.
    phase_tx.send_replace(Phase::Settling);
    let settle_deadline = Instant::now() + s.settle_timeout;
    let mut seen = stats.deliveries.load(Ordering::Relaxed);
    let mut quiet_since = Instant::now();
    while Instant::now() < settle_deadline && quiet_since.elapsed() < Duration::from_secs(1) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = stats.deliveries.load(Ordering::Relaxed);
        if now != seen {
            seen = now;
            quiet_since = Instant::now();
        }
    }
    phase_tx.send_replace(Phase::Done);
    let mut outcomes = Vec::with_capacity(clients);
    for e in editors {
        outcomes.push(e.await.context("an editor task panicked")?);
    }
    let convergence = Convergence::check(&outcomes, s.docs, doc_name);

    let window = s.duration.as_secs_f64();
    let deliveries = window_end.deliveries - window_start.deliveries;
    let server = match (before.server, window_start.server, window_end.server) {
        (Some(b), Some(w0), Some(w1)) => {
            let cpu = w1.cpu_seconds - w0.cpu_seconds;
            Some(ServerCost {
                pids: s.server_pid.clone(),
                cpu_seconds: cpu,
                cpu_us_per_delivery: (deliveries > 0).then(|| cpu * 1e6 / deliveries as f64),
                cpu_utilisation: cpu / window,
                rss_before_mib: b.rss_bytes as f64 / 1048576.0,
                rss_loaded_mib: w1.rss_bytes as f64 / 1048576.0,
                rss_per_connection_kib: (w1.rss_bytes as f64 - b.rss_bytes as f64)
                    / 1024.0
                    / clients as f64,
            })
        }
        _ => None,
    };
    let tool_cpu = match (window_start.tool, window_end.tool) {
        (Some(a), Some(b)) => b.cpu_seconds - a.cpu_seconds,
        _ => 0.0,
    };
    let server_counters = match (&s.metrics_url, &metrics_before) {
        (Some(url), Some(before)) => Some(counter_deltas(before, &scrape(url).await?)),
        _ => None,
    };
    Ok(Report {
        label: s.label.clone(),
        scenario: s.clone(),
        clients,
        window_seconds: window,
        edits: stats.edits.load(Ordering::Relaxed),
        offline_edits: stats.offline_edits.load(Ordering::Relaxed),
        deliveries: stats.deliveries.load(Ordering::Relaxed),
        deliveries_per_second: deliveries as f64 / window,
        awareness_sent: stats.awareness_sent.load(Ordering::Relaxed),
        awareness_received: stats.awareness_received.load(Ordering::Relaxed),
        frames_received: stats.frames_received.load(Ordering::Relaxed),
        bytes_received: stats.bytes_received.load(Ordering::Relaxed),
        connects: stats.connects.load(Ordering::Relaxed),
        reconnects: stats.reconnects.load(Ordering::Relaxed),
        latency_ms: Summary::of(&stats.latency()),
        connect_ms: Summary::of(&stats.connect_times()),
        first_sync_ms: Summary::of(&stats.first_sync_times()),
        first_content_ms: Summary::of(&stats.first_content_times()),
        errors: stats.errors(),
        convergence,
        server,
        server_counters,
        tool: ToolCost::new(s.threads, tool_cpu, window, deliveries),
    })
}
