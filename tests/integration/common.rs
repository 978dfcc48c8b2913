//! Test harness: the real `creo` binary as a child process on an ephemeral port, and a yrs-based
//! Yjs client speaking the same protocol as the official y-websocket provider.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use creo::auth::{Role, TokenKeys};
use creo::config::Config;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use yrs::encoding::read::{Cursor, Read};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, GetString, ReadTxn, Text, TextRef, Transact, Update};

pub const SECRET: &str = "integration-test-secret-0123456789";

pub struct Server {
    child: Option<Child>,
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    pub base: String,
    env: Vec<(String, String)>,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// Starts `creo serve` on 127.0.0.1:0 with a fresh data dir and extra `CREO_*` settings.
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().to_path_buf();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut s = Server {
            child: None,
            data,
            _tmp: Some(tmp),
            base: String::new(),
            env,
            log: Arc::new(Mutex::new(Vec::new())),
        };
        s.spawn();
        s
    }

    /// A second node on the same data directory (the embedded store is shared through SQLite).
    pub fn start_sharing(other: &Server, env: &[(&str, &str)]) -> Server {
        let mut s = Server {
            child: None,
            data: other.data.clone(),
            _tmp: None,
            base: String::new(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            log: Arc::new(Mutex::new(Vec::new())),
        };
        s.spawn();
        s
    }

    /// Replaces the store fault plan (the server must run with `CREO_FAULT_INJECTION=true`).
    pub async fn set_faults(&self, plan: serde_json::Value) {
        let resp = http()
            .put(self.url("/debug/store-faults"))
            .json(&plan)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "set fault plan");
    }

    pub async fn ready(&self) -> bool {
        reqwest::get(self.url("/readyz")).await.unwrap().status() == 200
    }

    fn spawn(&mut self) {
        // CREO_TEST_BIN runs the suite against another build (say, the last release's, to see
        // a regression test fail on the code it guards against).
        let bin = std::env::var("CREO_TEST_BIN").unwrap_or(env!("CARGO_BIN_EXE_creo").into());
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .env("CREO_ADDR", "127.0.0.1:0")
            .env("CREO_DATA", &self.data)
            .env("CREO_JWT_SECRET", SECRET)
            .env("CREO_LOG", "info,creo=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn creo");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(i) = line.find("listening on http://") {
                    let url = line[i + "listening on ".len()..]
                        .split_whitespace()
                        .next()
                        .unwrap()
                        .to_string();
                    let _ = tx.send(url);
                }
                log.lock().unwrap().push(line);
            }
        });
        self.base = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("server did not start: {:?}", self.log.lock().unwrap()));
        self.child = Some(child);
    }

    pub fn ws(&self, doc: &str, token: &str) -> String {
        format!(
            "{}/ws/{doc}?token={token}",
            self.base.replace("http://", "ws://")
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// SIGKILL: no flush, no goodbye.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM, and the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut c = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = c.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts again on the same data directory (a new port).
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop the server first");
        self.spawn();
    }

    /// Whether the process is still running (not crashed).
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// Restarts the peak resident memory count from the memory in use now (writing 5 to
    /// `/proc/PID/clear_refs`), so a later peak measures what came after.
    pub fn reset_peak_rss(&self) {
        let pid = self.child.as_ref().expect("running").id();
        std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("clear_refs");
    }

    /// The process's resident memory now and at its peak, in KiB (`/proc/PID/status`).
    pub fn rss_kib(&self) -> (u64, u64) {
        let pid = self.child.as_ref().expect("running").id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    pub async fn metric(&self, name_and_labels: &str) -> f64 {
        let body = reqwest::get(self.url("/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        body.lines()
            .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            let log = self.log.lock().unwrap();
            let from = log.len().saturating_sub(40);
            eprintln!("--- last server log lines ---\n{}", log[from..].join("\n"));
        }
    }
}

pub fn keys() -> TokenKeys {
    TokenKeys::from_config(&Config {
        jwt_secret: Some(SECRET.into()),
        ..Config::default()
    })
    .unwrap()
}

pub fn token(account: &str, user: &str, role: Role) -> String {
    keys()
        .mint(user, account, role, None, Duration::from_secs(600))
        .unwrap()
}

pub fn doc_token(account: &str, user: &str, role: Role, doc: &str) -> String {
    keys()
        .mint(
            user,
            account,
            role,
            Some(doc.into()),
            Duration::from_secs(600),
        )
        .unwrap()
}

#[derive(Default)]
pub struct Seen {
    pub synced: bool,
    pub closed: Option<(u16, String)>,
    pub awareness: HashMap<u64, serde_json::Value>,
    /// Awareness messages received.
    pub awareness_messages: u64,
    pub acked: u64,
    pub denied: Vec<String>,
    pub updates: u64,
    /// creo events (message type 101, with `?events=1`).
    pub events: Vec<serde_json::Value>,
}

/// A Yjs client over a real WebSocket, behaving like y-websocket: sends SyncStep1 on open,
/// answers the server's SyncStep1, applies updates, tracks awareness.
pub struct YClient {
    pub doc: Arc<Mutex<Doc>>,
    text: TextRef,
    out: mpsc::UnboundedSender<WsMessage>,
    pub seen: Arc<Mutex<Seen>>,
    awareness_clock: u32,
}

pub const TEXT: &str = "post";

impl YClient {
    pub async fn connect(url: &str) -> YClient {
        YClient::connect_doc(url, Doc::new()).await
    }

    /// Connects with an existing document (reconnecting after offline edits).
    pub async fn connect_doc(url: &str, doc: Doc) -> YClient {
        YClient::try_connect_doc(url, doc)
            .await
            .unwrap_or_else(|e| panic!("connect {url}: {e}"))
    }

    pub async fn try_connect_doc(url: &str, doc: Doc) -> Result<YClient, String> {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sink, mut stream) = ws.split();
        let text = doc.get_or_insert_text(TEXT);
        let doc = Arc::new(Mutex::new(doc));
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (out, mut out_rx) = mpsc::unbounded_channel::<WsMessage>();
        tokio::spawn(async move {
            while let Some(m) = out_rx.recv().await {
                if sink.send(m).await.is_err() {
                    break;
                }
            }
        });
        let (d, s, o) = (doc.clone(), seen.clone(), out.clone());
        tokio::spawn(async move {
            while let Some(msg) = stream.next().await {
                match msg {
                    Ok(WsMessage::Binary(b)) => handle_frame(&d, &s, &o, &b),
                    Ok(WsMessage::Close(frame)) => {
                        let (code, reason) = frame
                            .map(|f| (u16::from(f.code), f.reason.to_string()))
                            .unwrap_or((1005, String::new()));
                        s.lock().unwrap().closed = Some((code, reason));
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            let mut seen = s.lock().unwrap();
            if seen.closed.is_none() {
                seen.closed = Some((1006, "connection dropped".into()));
            }
        });
        let client = YClient {
            doc,
            text,
            out,
            seen,
            awareness_clock: 0,
        };
        let sv = client.doc.lock().unwrap().transact().state_vector();
        client.send(Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1());
        Ok(client)
    }

    pub fn send(&self, frame: Vec<u8>) {
        let _ = self.out.send(WsMessage::Binary(frame.into()));
    }

    pub fn send_text_frame(&self, s: &str) {
        let _ = self.out.send(WsMessage::Text(s.into()));
    }

    /// Inserts at the end and sends the update, as an editor does on a keystroke.
    pub fn append(&self, s: &str) {
        let update = {
            let doc = self.doc.lock().unwrap();
            let mut txn = doc.transact_mut();
            let len = self.text.len(&txn);
            self.text.insert(&mut txn, len, s);
            txn.encode_update_v1()
        };
        self.send(Message::Sync(SyncMessage::Update(update)).encode_v1());
    }

    pub fn text(&self) -> String {
        let doc = self.doc.lock().unwrap();
        let txn = doc.transact();
        self.text.get_string(&txn)
    }

    pub fn client_id(&self) -> u64 {
        self.doc.lock().unwrap().client_id().get()
    }

    pub fn set_awareness(&mut self, client: u64, json: &str) {
        self.awareness_clock += 1;
        let update = AwarenessUpdate {
            clients: [(
                ClientID::new(client),
                AwarenessUpdateEntry {
                    clock: self.awareness_clock,
                    json: Arc::from(json),
                },
            )]
            .into_iter()
            .collect(),
        };
        self.send(Message::Awareness(update).encode_v1());
    }

    pub async fn close(&self) {
        let _ = self.out.send(WsMessage::Close(Some(
            tokio_tungstenite::tungstenite::protocol::CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            },
        )));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    /// Waits until `cond` holds, up to `secs`; returns whether it did.
    pub async fn wait(&self, secs: u64, cond: impl Fn(&YClient) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if cond(self) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        cond(self)
    }

    pub async fn synced(&self) -> bool {
        self.wait(10, |c| c.seen.lock().unwrap().synced).await
    }

    pub async fn closed_with(&self, secs: u64) -> Option<u16> {
        self.wait(secs, |c| c.seen.lock().unwrap().closed.is_some())
            .await;
        self.seen.lock().unwrap().closed.as_ref().map(|c| c.0)
    }
}

fn handle_frame(
    doc: &Arc<Mutex<Doc>>,
    seen: &Arc<Mutex<Seen>>,
    out: &mpsc::UnboundedSender<WsMessage>,
    frame: &[u8],
) {
    if frame.first() == Some(&100) {
        let mut cur = Cursor::new(&frame[1..]);
        let n: u64 = cur.read_var().unwrap();
        seen.lock().unwrap().acked = n;
        return;
    }
    if frame.first() == Some(&101) {
        let mut cur = Cursor::new(&frame[1..]);
        let json: &str = cur.read_string().unwrap();
        seen.lock()
            .unwrap()
            .events
            .push(serde_json::from_str(json).unwrap());
        return;
    }
    let msg = Message::decode_v1(frame).expect("server frame decodes");
    match msg {
        Message::Sync(SyncMessage::SyncStep1(sv)) => {
            let diff = doc.lock().unwrap().transact().encode_diff_v1(&sv);
            let _ = out.send(WsMessage::Binary(
                Message::Sync(SyncMessage::SyncStep2(diff))
                    .encode_v1()
                    .into(),
            ));
        }
        Message::Sync(SyncMessage::SyncStep2(u)) => {
            apply(doc, &u);
            seen.lock().unwrap().synced = true;
        }
        Message::Sync(SyncMessage::Update(u)) => {
            apply(doc, &u);
            seen.lock().unwrap().updates += 1;
        }
        Message::Awareness(update) => {
            let mut seen = seen.lock().unwrap();
            seen.awareness_messages += 1;
            for (client, e) in update.clients {
                if &*e.json == "null" {
                    seen.awareness.remove(&client.get());
                } else {
                    seen.awareness
                        .insert(client.get(), serde_json::from_str(&e.json).unwrap());
                }
            }
        }
        Message::Auth(Some(reason)) => seen.lock().unwrap().denied.push(reason),
        _ => {}
    }
}

fn apply(doc: &Arc<Mutex<Doc>>, update: &[u8]) {
    let doc = doc.lock().unwrap();
    doc.transact_mut()
        .apply_update(Update::decode_v1(update).unwrap())
        .unwrap();
}

/// A fresh client's update inserting `s`, as one keystroke batch.
pub fn text_update(s: &str) -> Vec<u8> {
    let doc = Doc::new();
    let text = doc.get_or_insert_text(TEXT);
    let mut txn = doc.transact_mut();
    text.insert(&mut txn, 0, s);
    txn.encode_update_v1()
}

/// The one HTTP client of every test request. Building a reqwest client loads the system's TLS
/// roots (about 30 ms in a debug build): a burst of 120 requests with a client each took
/// seconds, long enough for the server to answer its 5 s first-request timeout (408) on the
/// connections opened first. It keeps no idle connection: each `#[tokio::test]` has its own
/// runtime, and a pooled connection would outlive the runtime that drives it.
pub fn http() -> &'static reqwest::Client {
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
        reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("HTTP client")
    });
    &CLIENT
}

/// `GET path` with a bearer token.
pub async fn api_get(server: &Server, token: &str, path: &str) -> reqwest::Response {
    http()
        .get(server.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// `GET /api/v1/documents/{doc_id}`: the document's metadata.
pub async fn doc_info(server: &Server, token: &str, doc_id: &str) -> serde_json::Value {
    api_get(server, token, &format!("/api/v1/documents/{doc_id}"))
        .await
        .json()
        .await
        .unwrap()
}

/// `POST /api/v1/documents/{doc_id}/updates` with a binary update.
pub async fn post_update(
    server: &Server,
    token: &str,
    doc_id: &str,
    update: Vec<u8>,
) -> reqwest::Response {
    http()
        .post(server.url(&format!("/api/v1/documents/{doc_id}/updates")))
        .bearer_auth(token)
        .body(update)
        .send()
        .await
        .unwrap()
}

/// A whole document as one update, as `POST /api/v1/documents/{id}/updates` takes it.
pub fn encoded_state(doc: &Doc) -> Vec<u8> {
    doc.transact()
        .encode_state_as_update_v1(&yrs::StateVector::default())
}

/// The document text as stored, read over REST.
pub async fn stored_text(server: &Server, token: &str, doc_id: &str) -> String {
    let resp = api_get(server, token, &format!("/api/v1/documents/{doc_id}/state")).await;
    assert_eq!(resp.status(), 200, "GET state");
    let bytes = resp.bytes().await.unwrap();
    let doc = Doc::new();
    let text = doc.get_or_insert_text(TEXT);
    doc.transact_mut()
        .apply_update(Update::decode_v1(&bytes).unwrap())
        .unwrap();
    let txn = doc.transact();
    text.get_string(&txn)
}

/// The handshake status for a WebSocket upgrade that is expected to be refused.
pub async fn upgrade_status(url: &str) -> u16 {
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => resp.status().as_u16(),
        Err(e) => panic!("unexpected handshake error {e}"),
    }
}
