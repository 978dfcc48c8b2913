//! Quick benchmark of the collaboration core (the full load tool is `creo-load`, issue 3).
//! Starts the release server itself and reports, each against a baseline from the same run:
//!
//! 1. one document, 50 editors: updates/s in, deliveries/s out, server CPU per delivery;
//! 2. 1,000 idle editors on 1,000 documents: server RSS per connection;
//! 3. cold load of a document with 20,000 edits, uncompacted and compacted, against the time to
//!    open an empty document;
//! 4. the embedded store's group commit: appends/s and latency with many concurrent writers,
//!    against one writer (one fsync per append).
//!
//!   cargo build --release && cargo run --release --example quick_bench
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use creo::auth::{Role, TokenKeys};
use creo::config::Config;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Ws;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::encoder::Encode;
use yrs::{Doc, ReadTxn, Text, Transact};

const SECRET: &str = "quick-bench-secret-0123456789abcdef";

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(data: &std::path::Path, env: &[(&str, &str)]) -> Server {
        let bin = std::env::var("CREO_BIN").unwrap_or_else(|_| "target/release/creo".into());
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .env("CREO_ADDR", "127.0.0.1:0")
            .env("CREO_DATA", data)
            .env("CREO_JWT_SECRET", SECRET)
            .env("CREO_LOG", "warn,creo::server=info")
            .env("CREO_SESSION_MESSAGES_PER_SECOND", "100000")
            .env("CREO_SESSION_MESSAGE_BURST", "100000")
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .expect("start target/release/creo (cargo build --release)");
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        let base = loop {
            let line = lines.next().expect("server exited").unwrap();
            if let Some(i) = line.find("listening on http://") {
                break line[i + 13..]
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    fn ws(&self, doc: &str, token: &str) -> String {
        format!(
            "{}/ws/{doc}?token={token}",
            self.base.replace("http://", "ws://")
        )
    }

    /// User + system CPU seconds of the server process.
    fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        let fields: Vec<&str> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }

    fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap();
        kb * 1024
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token() -> String {
    token_for("bench")
}

/// Each simulated editor is its own user, as in real life (and per-user limits apply).
fn token_for(user: &str) -> String {
    let keys = TokenKeys::from_config(&Config {
        jwt_secret: Some(SECRET.into()),
        ..Config::default()
    })
    .unwrap();
    keys.mint(user, "bench", Role::Editor, None, Duration::from_secs(3600))
        .unwrap()
}

type Sink = futures_util::stream::SplitSink<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    Ws,
>;

/// Connects, sends SyncStep1, waits for the server's SyncStep2; then counts every later update
/// frame into `deliveries` (without applying it: the client must stay cheap).
async fn editor(url: &str, deliveries: Arc<AtomicU64>) -> (Sink, Duration) {
    let started = Instant::now();
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    let (mut sink, mut stream) = ws.split();
    let sv = Doc::new().transact().state_vector();
    sink.send(Ws::Binary(
        Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1().into(),
    ))
    .await
    .unwrap();
    loop {
        match stream.next().await {
            Some(Ok(Ws::Binary(b))) if b.starts_with(&[0, 1]) => break,
            Some(Ok(_)) => {}
            other => panic!("no sync: {other:?}"),
        }
    }
    let synced = started.elapsed();
    tokio::spawn(async move {
        while let Some(Ok(m)) = stream.next().await {
            if let Ws::Binary(b) = m {
                if b.starts_with(&[0, 2]) {
                    deliveries.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    });
    (sink, synced)
}

fn keystroke(doc: &Doc, text: &yrs::TextRef, s: &str) -> Vec<u8> {
    let mut txn = doc.transact_mut();
    let len = text.len(&txn);
    text.insert(&mut txn, len, s);
    Message::Sync(SyncMessage::Update(txn.encode_update_v1())).encode_v1()
}

async fn one_document(editors: usize, rate: u64, secs: u64) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let deliveries = Arc::new(AtomicU64::new(0));
    let mut sinks = Vec::new();
    for i in 0..editors {
        let tok = token_for(&format!("editor-{i}"));
        sinks.push(editor(&server.ws("s1", &tok), deliveries.clone()).await.0);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (cpu0, d0, t0) = (
        server.cpu_seconds(),
        deliveries.load(Ordering::Relaxed),
        Instant::now(),
    );
    let sent = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for (i, mut sink) in sinks.into_iter().enumerate() {
        let sent = sent.clone();
        tasks.push(tokio::spawn(async move {
            let doc = Doc::new();
            let text = doc.get_or_insert_text("post");
            let period = Duration::from_micros(1_000_000 / rate);
            // Spread editors over the period so they do not all type at once.
            tokio::time::sleep(period * i as u32 / editors as u32).await;
            let mut tick = tokio::time::interval(period);
            let end = Instant::now() + Duration::from_secs(secs);
            while Instant::now() < end {
                tick.tick().await;
                let frame = keystroke(&doc, &text, "x");
                if sink.send(Ws::Binary(frame.into())).await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
            sink
        }));
    }
    let mut sinks = Vec::new();
    for t in tasks {
        sinks.push(t.await.unwrap());
    }
    // Let in-flight deliveries arrive.
    let expected = sent.load(Ordering::Relaxed) * (editors as u64 - 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while deliveries.load(Ordering::Relaxed) - d0 < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let delivered = deliveries.load(Ordering::Relaxed) - d0;
    let cpu = server.cpu_seconds() - cpu0;
    let sent = sent.load(Ordering::Relaxed);
    println!(
        "one document, {editors} editors x {rate}/s for {secs}s: {:.0} updates/s in, {:.0} deliveries/s, \
         {delivered}/{expected} delivered, server CPU {:.1} us per delivery ({:.0}% of one core)",
        sent as f64 / elapsed,
        delivered as f64 / elapsed,
        cpu * 1e6 / delivered.max(1) as f64,
        cpu / elapsed * 100.0
    );
    drop(sinks);
}

/// `n` idle editors spread over `docs` documents: RSS per connection, documents included.
async fn idle_connections(n: usize, docs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let tok = token();
    let counter = Arc::new(AtomicU64::new(0));
    // Baseline: a server that has served one connection (runtime, store and pools warm).
    let warm = editor(&server.ws("warm", &tok), counter.clone()).await.0;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = server.rss_bytes();
    let mut sinks = Vec::new();
    for i in 0..n {
        let tok = token_for(&format!("idle-user-{i}"));
        let url = server.ws(&format!("idle-{}", i % docs), &tok);
        sinks.push(editor(&url, counter.clone()).await.0);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = server.rss_bytes();
    println!(
        "{n} idle editors on {docs} documents: server RSS {:.1} MiB -> {:.1} MiB, {:.1} KiB per connection",
        base as f64 / 1048576.0,
        rss as f64 / 1048576.0,
        (rss - base) as f64 / n as f64 / 1024.0
    );
    drop((warm, sinks));
}

async fn cold_load(edits: usize) {
    let dir = tempfile::tempdir().unwrap();
    let never = [
        ("CREO_COMPACT_AFTER_UPDATES", "1000000000"),
        ("CREO_COMPACT_AFTER_BYTES", "1000000000"),
        ("CREO_UNLOAD_GRACE_MS", "100"),
    ];
    let tok = token();
    let counter = Arc::new(AtomicU64::new(0));
    {
        let server = Server::start(dir.path(), &never);
        let (mut sink, _) = editor(
            &format!("{}&ack=1", server.ws("history", &tok)),
            counter.clone(),
        )
        .await;
        let doc = Doc::new();
        let text = doc.get_or_insert_text("post");
        for i in 0..edits {
            sink.send(Ws::Binary(
                keystroke(&doc, &text, &format!("{} ", i % 10)).into(),
            ))
            .await
            .unwrap();
        }
        // Wait until every edit is durable (the observer sees them all broadcast).
        let (_observer, _) = editor(&server.ws("history", &tok), counter.clone()).await;
        let seen = Arc::new(AtomicU64::new(0));
        let (_o2, _) = editor(&server.ws("history", &tok), seen.clone()).await;
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let stored = reqwest_len(&server, &tok).await;
            if stored >= edits * 2 || Instant::now() > deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // SIGKILL: nothing gets compacted on the way out.
    }
    let server = Server::start(dir.path(), &never);
    let (_empty, empty) = editor(&server.ws("empty-doc", &tok), counter.clone()).await;
    let (s, uncompacted) = editor(&server.ws("history", &tok), counter.clone()).await;
    drop(s);
    // The last editor left: after the grace period the document compacts and unloads.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut compacted = Vec::new();
    for _ in 0..5 {
        let (s, t) = editor(&server.ws("history", &tok), counter.clone()).await;
        compacted.push(t);
        drop(s);
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    compacted.sort();
    println!(
        "cold load of {edits} edits: {:.1} ms from the raw log, {:.1} ms from a snapshot (median of 5); \
         an empty document opens in {:.1} ms",
        uncompacted.as_secs_f64() * 1e3,
        compacted[2].as_secs_f64() * 1e3,
        empty.as_secs_f64() * 1e3
    );
}

/// Length of the stored text, read over REST.
async fn reqwest_len(server: &Server, tok: &str) -> usize {
    let bytes = reqwest::Client::new()
        .get(format!("{}/api/v1/documents/history/state", server.base))
        .bearer_auth(tok)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    use yrs::updates::decoder::Decode;
    let doc = Doc::new();
    let text = doc.get_or_insert_text("post");
    doc.transact_mut()
        .apply_update(yrs::Update::decode_v1(&bytes).unwrap())
        .unwrap();
    let txn = doc.transact();
    text.len(&txn) as usize
}

/// Concurrent writers, each appending one keystroke at a time to its own document, straight to
/// the embedded store with `synchronous=full`.
async fn group_commit(writers: usize, secs: u64) -> (f64, Duration, Duration) {
    use creo::store::embedded::EmbeddedStore;
    use creo::store::DocumentStore;
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn DocumentStore> = Arc::new(EmbeddedStore::open(dir.path(), "full").unwrap());
    for w in 0..writers {
        store.claim(&format!("gc-{w}"), "bench").await.unwrap();
    }
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let doc = Doc::new();
            let text = doc.get_or_insert_text("post");
            let id = format!("gc-{w}");
            let mut latencies = Vec::new();
            while Instant::now() < end {
                let update = {
                    let mut txn = doc.transact_mut();
                    text.insert(&mut txn, 0, "x");
                    txn.encode_update_v1()
                };
                let t = Instant::now();
                store.append(&id, vec![update.into()]).await.unwrap();
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    let rate = all.len() as f64 / secs as f64;
    (rate, all[all.len() / 2], all[all.len() * 99 / 100])
}

async fn store_group_commit() {
    let (base, base_p50, base_p99) = group_commit(1, 5).await;
    println!(
        "embedded store, 1 writer: {base:.0} appends/s, p50 {:.2} ms, p99 {:.2} ms (one fsync per append: the baseline)",
        base_p50.as_secs_f64() * 1e3,
        base_p99.as_secs_f64() * 1e3
    );
    for writers in [16, 128, 512] {
        let (rate, p50, p99) = group_commit(writers, 5).await;
        println!(
            "embedded store, {writers} concurrent writers: {rate:.0} appends/s ({:.1}x the single writer), p50 {:.2} ms, p99 {:.2} ms",
            rate / base,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    if arg.is_empty() || arg == "throughput" {
        for rate in [2, 10, 40] {
            one_document(50, rate, 10).await;
        }
    }
    if arg.is_empty() || arg == "idle" {
        idle_connections(1000, 1000).await;
        idle_connections(1000, 1).await;
    }
    if arg.is_empty() || arg == "cold" {
        cold_load(20_000).await;
    }
    if arg.is_empty() || arg == "store" {
        store_group_commit().await;
    }
}
