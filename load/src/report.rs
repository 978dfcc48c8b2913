//! The end of a run: convergence check, the JSON report and the human summary.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::editor::Outcome;
use crate::scenario::Scenario;

/// One core of the load tool must drive at least this many deliveries per second; below it, on
/// a saturated tool, the tool rather than the server limits what a run shows.
pub const TOOL_DELIVERIES_PER_CORE: f64 = 50_000.0;
/// A tool thread busier than this is treated as saturated.
const SATURATED: f64 = 0.9;

#[derive(Serialize)]
pub struct Report {
    pub label: String,
    pub scenario: Scenario,
    pub clients: usize,
    /// The measured window: from when every editor has joined to the end of the edit phase.
    pub window_seconds: f64,
    pub edits: u64,
    pub offline_edits: u64,
    pub deliveries: u64,
    pub deliveries_per_second: f64,
    pub awareness_sent: u64,
    pub awareness_received: u64,
    pub frames_received: u64,
    pub bytes_received: u64,
    pub connects: u64,
    pub reconnects: u64,
    /// Edit sent by one editor → applied by another, over the whole run, milliseconds.
    pub latency_ms: Summary,
    /// TCP connect + WebSocket handshake, milliseconds.
    pub connect_ms: Summary,
    /// Socket open → the server's SyncStep2 applied, milliseconds.
    pub first_sync_ms: Summary,
    /// Socket open → the document's first content applied, for newly opened editors,
    /// milliseconds (the time to see a stored document, whatever the first sync said).
    pub first_content_ms: Summary,
    pub errors: BTreeMap<String, u64>,
    pub convergence: Convergence,
    pub server: Option<ServerCost>,
    pub server_counters: Option<BTreeMap<String, f64>>,
    pub tool: ToolCost,
}

#[derive(Serialize)]
pub struct Summary {
    pub count: u64,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    pub fn of(h: &Histogram<u64>) -> Summary {
        let ms = |us: u64| us as f64 / 1000.0;
        Summary {
            count: h.len(),
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

#[derive(Serialize)]
pub struct Convergence {
    pub documents: usize,
    pub converged: usize,
    /// Up to ten documents whose editors ended with different content.
    pub diverged: Vec<String>,
}

impl Convergence {
    pub fn ok(&self) -> bool {
        self.converged == self.documents
    }

    /// Every editor of a document must end with the same state and text.
    pub fn check(outcomes: &[Outcome], documents: usize, name: impl Fn(usize) -> String) -> Self {
        let mut first: Vec<Option<&Outcome>> = vec![None; documents];
        let mut bad = vec![false; documents];
        for o in outcomes {
            match first[o.doc] {
                None => first[o.doc] = Some(o),
                Some(f) => bad[o.doc] |= f.text != o.text || f.state_vector != o.state_vector,
            }
        }
        let diverged: Vec<String> = (0..documents).filter(|&d| bad[d]).map(name).collect();
        Convergence {
            documents,
            converged: documents - diverged.len(),
            diverged: diverged.into_iter().take(10).collect(),
        }
    }
}

#[derive(Serialize)]
pub struct ServerCost {
    pub pids: Vec<u32>,
    pub cpu_seconds: f64,
    /// Server CPU time over the window divided by the deliveries in it, microseconds.
    pub cpu_us_per_delivery: Option<f64>,
    /// Share of one core the server used over the window.
    pub cpu_utilisation: f64,
    pub rss_before_mib: f64,
    pub rss_loaded_mib: f64,
    /// (RSS with every editor connected − RSS before any connected) / clients.
    pub rss_per_connection_kib: f64,
}

#[derive(Serialize)]
pub struct ToolCost {
    pub threads: usize,
    pub cpu_seconds: f64,
    /// Busy share of the tool's threads over the window.
    pub utilisation: f64,
    pub deliveries_per_cpu_second: Option<f64>,
    /// The tool's threads were saturated: figures show the tool's limit, not the server's.
    pub saturated: bool,
}

impl ToolCost {
    pub fn new(threads: usize, cpu_seconds: f64, window: f64, deliveries: u64) -> ToolCost {
        let utilisation = cpu_seconds / window / threads as f64;
        ToolCost {
            threads,
            cpu_seconds,
            utilisation,
            deliveries_per_cpu_second: (cpu_seconds > 0.0 && deliveries > 0)
                .then(|| deliveries as f64 / cpu_seconds),
            saturated: utilisation >= SATURATED,
        }
    }
}

impl Report {
    pub fn human(&self) -> String {
        let mut out = String::new();
        let o = &mut out;
        let s = &self.scenario;
        let _ = writeln!(
            o,
            "\ncreo-load {}: {} documents x {} editors, {}/s edits of {} chars, {}/s awareness, {:.0}s window",
            self.label, s.docs, s.editors, s.rate, s.edit_size, s.awareness_rate, self.window_seconds
        );
        let _ = writeln!(
            o,
            "  edits sent       {:>12} ({} offline)\n  deliveries       {:>12}  {:.0}/s\n  awareness        {:>12} sent, {} received",
            self.edits, self.offline_edits, self.deliveries, self.deliveries_per_second,
            self.awareness_sent, self.awareness_received
        );
        for (name, h) in [
            ("latency", &self.latency_ms),
            ("connect", &self.connect_ms),
            ("first sync", &self.first_sync_ms),
            ("first content", &self.first_content_ms),
        ] {
            let _ = writeln!(
                o,
                "  {name:<16} p50 {:>8.2} ms  p95 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  (n={})",
                h.p50, h.p95, h.p99, h.max, h.count
            );
        }
        let _ = writeln!(
            o,
            "  connections      {} connects, {} reconnects",
            self.connects, self.reconnects
        );
        if self.errors.is_empty() {
            let _ = writeln!(o, "  errors           none");
        } else {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            let _ = writeln!(o, "  errors           {}", list.join(", "));
        }
        if let Some(sv) = &self.server {
            let per = sv
                .cpu_us_per_delivery
                .map_or("n/a".into(), |v| format!("{v:.2} µs"));
            let _ = writeln!(
                o,
                "  server           {per} CPU per delivery, {:.0}% of a core, RSS {:.1} -> {:.1} MiB, {:.1} KiB per connection",
                sv.cpu_utilisation * 100.0, sv.rss_before_mib, sv.rss_loaded_mib, sv.rss_per_connection_kib
            );
        }
        let t = &self.tool;
        let _ = writeln!(
            o,
            "  load tool        {} thread(s) {:.0}% busy, {}",
            t.threads,
            t.utilisation * 100.0,
            t.deliveries_per_cpu_second
                .map_or("no deliveries".into(), |d| format!(
                    "{d:.0} deliveries per CPU-second"
                ))
        );
        if t.saturated {
            let _ = writeln!(
                o,
                "  WARNING: the load tool was saturated; these figures show the tool's limit, not the server's{}",
                match t.deliveries_per_cpu_second {
                    Some(d) if d < TOOL_DELIVERIES_PER_CORE =>
                        format!(" (and it drove {d:.0} deliveries per core, below its {TOOL_DELIVERIES_PER_CORE:.0} target)"),
                    _ => String::new(),
                }
            );
        }
        let c = &self.convergence;
        if c.ok() {
            let _ = writeln!(
                o,
                "  convergence      all {} documents converged",
                c.documents
            );
        } else {
            let _ = writeln!(
                o,
                "  convergence      FAILED: {} of {} documents diverged (e.g. {})",
                c.documents - c.converged,
                c.documents,
                c.diverged.join(", ")
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, GetString, ReadTxn, Text, Transact};

    fn outcome(doc: usize, text: &str) -> Outcome {
        let d = Doc::with_client_id(1);
        let t = d.get_or_insert_text("content");
        t.insert(&mut d.transact_mut(), 0, text);
        let txn = d.transact();
        Outcome {
            doc,
            text: t.get_string(&txn),
            state_vector: txn.state_vector(),
        }
    }

    #[test]
    fn a_document_whose_editors_differ_has_diverged() {
        let outcomes = [
            outcome(0, "ab"),
            outcome(0, "ab"),
            outcome(1, "ab"),
            outcome(1, "abc"),
        ];
        let c = Convergence::check(&outcomes, 2, |d| format!("doc-{d}"));
        assert!(!c.ok());
        assert_eq!(c.converged, 1);
        assert_eq!(c.diverged, vec!["doc-1".to_string()]);
        let same = [outcome(0, "x"), outcome(0, "x")];
        assert!(Convergence::check(&same, 1, |d| d.to_string()).ok());
    }
}
