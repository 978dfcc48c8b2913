//! What the editors measure while they run, shared by all of them: HDR histograms, counters,
//! errors by kind, and per document the send time of every edit so a receiver can tell how long
//! an edit took to reach it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Microseconds; up to ten minutes at three significant digits.
fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

pub struct Stats {
    pub start: Instant,
    latency: Mutex<Histogram<u64>>,
    connect: Mutex<Histogram<u64>>,
    first_sync: Mutex<Histogram<u64>>,
    first_content: Mutex<Histogram<u64>>,
    pub edits: AtomicU64,
    pub offline_edits: AtomicU64,
    /// (edit, receiving editor) pairs: one edit reaching one other editor of its document.
    pub deliveries: AtomicU64,
    pub awareness_sent: AtomicU64,
    pub awareness_received: AtomicU64,
    pub frames_received: AtomicU64,
    pub bytes_received: AtomicU64,
    pub connects: AtomicU64,
    pub reconnects: AtomicU64,
    pub connected: AtomicI64,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            start: Instant::now(),
            latency: Mutex::new(histogram()),
            connect: Mutex::new(histogram()),
            first_sync: Mutex::new(histogram()),
            first_content: Mutex::new(histogram()),
            edits: AtomicU64::new(0),
            offline_edits: AtomicU64::new(0),
            deliveries: AtomicU64::new(0),
            awareness_sent: AtomicU64::new(0),
            awareness_received: AtomicU64::new(0),
            frames_received: AtomicU64::new(0),
            bytes_received: AtomicU64::new(0),
            connects: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            connected: AtomicI64::new(0),
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    /// Microseconds since the run started: the clock edits are stamped with.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    pub fn connected(&self, took: Duration) {
        record(&self.connect, took);
        self.connects.fetch_add(1, Ordering::Relaxed);
        self.connected.fetch_add(1, Ordering::Relaxed);
    }

    pub fn disconnected(&self) {
        self.connected.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn synced(&self, took: Duration) {
        record(&self.first_sync, took);
    }

    /// A newly opened editor received the document's first content.
    pub fn content(&self, took: Duration) {
        record(&self.first_content, took);
    }

    pub fn error(&self, kind: impl Into<String>) {
        *self
            .errors
            .lock()
            .expect("errors lock")
            .entry(kind.into())
            .or_default() += 1;
    }

    pub fn error_count(&self) -> u64 {
        self.errors.lock().expect("errors lock").values().sum()
    }

    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().expect("errors lock").clone()
    }

    pub fn latency(&self) -> Histogram<u64> {
        self.latency.lock().expect("histogram lock").clone()
    }

    pub fn connect_times(&self) -> Histogram<u64> {
        self.connect.lock().expect("histogram lock").clone()
    }

    pub fn first_sync_times(&self) -> Histogram<u64> {
        self.first_sync.lock().expect("histogram lock").clone()
    }

    pub fn first_content_times(&self) -> Histogram<u64> {
        self.first_content.lock().expect("histogram lock").clone()
    }

    /// Records the arrivals one receiver just saw, stamped `now_us`.
    fn delivered(&self, arrivals: &[u64], now_us: u64) {
        self.deliveries
            .fetch_add(arrivals.len() as u64, Ordering::Relaxed);
        let mut h = self.latency.lock().expect("histogram lock");
        for &sent in arrivals.iter().filter(|&&sent| sent != UNTIMED) {
            h.saturating_record(now_us.saturating_sub(sent).max(1));
        }
    }
}

fn record(h: &Mutex<Histogram<u64>>, took: Duration) {
    h.lock()
        .expect("histogram lock")
        .saturating_record((took.as_micros() as u64).max(1));
}

/// Marks an arrival whose latency is not known: an edit made offline (its latency is the offline
/// period) or one whose send time is no longer kept.
pub const UNTIMED: u64 = u64::MAX;

/// How long an edit's send time is kept for its receivers.
const KEEP_US: u64 = 120_000_000;

/// One edit: the editor's Yjs clock after it, when it was sent, whether it was sent live.
type Sent = (u32, u64, bool);

/// Per document: each editor's edits, by Yjs client id.
#[derive(Default)]
pub struct Timeline {
    editors: Mutex<HashMap<u64, VecDeque<Sent>>>,
}

impl Timeline {
    /// Editor `client` made an edit that advanced its clock to `clock`; `live` is false for an
    /// edit made while offline.
    pub fn sent(&self, client: u64, clock: u32, at_us: u64, live: bool) {
        let mut editors = self.editors.lock().expect("timeline lock");
        let edits = editors.entry(client).or_default();
        while edits.front().is_some_and(|&(_, t, _)| t + KEEP_US < at_us) {
            edits.pop_front();
        }
        edits.push_back((clock, at_us, live));
    }

    /// A receiver's view of `client` advanced from clock `from` to `to`: every edit in between
    /// arrived now.
    pub fn arrived(&self, stats: &Stats, client: u64, from: u32, to: u32, arrivals: &mut Vec<u64>) {
        arrivals.clear();
        {
            let editors = self.editors.lock().expect("timeline lock");
            if let Some(edits) = editors.get(&client) {
                let start = edits.partition_point(|&(clock, _, _)| clock <= from);
                arrivals.extend(
                    edits
                        .range(start..)
                        .take_while(|&&(clock, _, _)| clock <= to)
                        .map(|&(_, t, live)| if live { t } else { UNTIMED }),
                );
            }
        }
        if arrivals.is_empty() {
            arrivals.push(UNTIMED);
        }
        stats.delivered(arrivals, stats.now_us());
    }
}
