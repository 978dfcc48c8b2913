//! One simulated editor: a yrs document and a WebSocket speaking the Yjs sync + awareness
//! protocol, as a browser tab running y-websocket does. It joins, edits at its rate, moves its
//! cursor, and leaves, drops or goes offline when the scenario says so.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as Ws};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use yrs::sync::awareness::AwarenessUpdateEntry;
use yrs::sync::{AwarenessUpdate, Message, MessageReader, SyncMessage};
use yrs::updates::decoder::{Decode, DecoderV1};
use yrs::updates::encoder::Encode;
use yrs::{ClientID, Doc, GetString, ReadTxn, StateVector, Text, TextRef, Transact, Update};

use crate::scenario::{Scenario, Typing};
use crate::stats::{Stats, Timeline};

/// The shared text every editor types into.
pub const TEXT: &str = "content";

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const READ_BUFFER: usize = 8 * 1024;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Phase {
    /// Editors edit.
    Running,
    /// Editing has stopped; editors keep receiving until every edit has arrived.
    Settling,
    /// Editors close their sockets and hand in their documents.
    Done,
}

/// Everything editors share.
pub struct Shared {
    pub scenario: Scenario,
    pub stats: Stats,
    /// One per document.
    pub timelines: Vec<Timeline>,
    /// When the edit phase starts (everyone has joined).
    pub edit_start: Instant,
}

/// What an editor hands in at the end: its document as it ended up.
pub struct Outcome {
    pub doc: usize,
    pub text: String,
    pub state_vector: StateVector,
}

/// Why a connection ended.
enum End {
    Stop,
    Leave,
    Storm,
    /// Offline until this instant.
    Offline(Instant),
    Lost(String),
}

struct Editor {
    doc: Doc,
    text: TextRef,
    client: u64,
    /// The next SyncStep2 is this page's initial load, not a delivery of missed edits.
    fresh: bool,
    /// When this page opened its socket, until the document's first content arrives. A server
    /// that answers the first sync before it has loaded the document sends an empty SyncStep2
    /// and the content later; this is what tells the two apart.
    awaiting_content: Option<Instant>,
    edits: u64,
    /// Where this editor types next (Typing::Cursor).
    cursor: u32,
    awareness_clock: u32,
    arrivals: Vec<u64>,
}

impl Editor {
    fn fresh() -> Editor {
        let doc = Doc::new();
        let text = doc.get_or_insert_text(TEXT);
        let client = doc.client_id().get();
        Editor {
            doc,
            text,
            client,
            fresh: true,
            awaiting_content: None,
            edits: 0,
            cursor: 0,
            awareness_clock: 0,
            arrivals: Vec::new(),
        }
    }

    /// Types `edit_size` characters where the scenario's typing puts them; returns the update
    /// to send.
    fn edit(&mut self, rng: &mut SmallRng, shared: &Shared, doc: usize, live: bool) -> Vec<u8> {
        let chunk: String = (0..shared.scenario.edit_size)
            .map(|_| rng.random_range(b'a'..=b'z') as char)
            .collect();
        let mut txn = self.doc.transact_mut();
        let len = self.text.len(&txn);
        let jump = shared.scenario.typing == Typing::Random || rng.random_ratio(1, 10);
        let at = if jump {
            rng.random_range(0..=len)
        } else {
            self.cursor.min(len)
        };
        self.text.insert(&mut txn, at, &chunk);
        self.cursor = at + chunk.len() as u32;
        let update = txn.encode_update_v1();
        let clock = at_clock_end(&txn, self.client);
        drop(txn);
        self.edits += 1;
        let stats = &shared.stats;
        shared.timelines[doc].sent(self.client, clock, stats.now_us(), live);
        stats.edits.fetch_add(1, Ordering::Relaxed);
        if !live {
            stats.offline_edits.fetch_add(1, Ordering::Relaxed);
        }
        Message::Sync(SyncMessage::Update(update)).encode_v1()
    }

    fn awareness(&mut self, user: &str) -> Vec<u8> {
        self.awareness_clock += 1;
        let json = format!(
            r#"{{"user":{{"name":"{user}"}},"cursor":{{"index":{}}}}}"#,
            self.cursor
        );
        let entry = AwarenessUpdateEntry {
            clock: self.awareness_clock,
            json: json.into(),
        };
        let update = AwarenessUpdate {
            clients: [(ClientID::new(self.client), entry)].into_iter().collect(),
        };
        Message::Awareness(update).encode_v1()
    }

    /// Applies an update from the server and times every edit of another editor it brought
    /// (the clock ranges this transaction integrated; an update waiting for a missing
    /// dependency counts when it finally integrates).
    fn apply(
        &mut self,
        update: &[u8],
        shared: &Shared,
        doc: usize,
        count: bool,
    ) -> Result<(), String> {
        let update = Update::decode_v1(update).map_err(|_| "bad_update".to_string())?;
        let mut txn = self.doc.transact_mut();
        txn.apply_update(update)
            .map_err(|_| "bad_update".to_string())?;
        if !txn.insert_set().is_empty() {
            if let Some(opened) = self.awaiting_content.take() {
                shared.stats.content(opened.elapsed());
            }
        }
        if count {
            for (client, ranges) in txn.insert_set().iter() {
                if client.get() == self.client {
                    continue;
                }
                for r in ranges.iter() {
                    shared.timelines[doc].arrived(
                        &shared.stats,
                        client.get(),
                        r.start,
                        r.end,
                        &mut self.arrivals,
                    );
                }
            }
        }
        Ok(())
    }

    /// Handles one frame; returns the reply to send, if any.
    fn receive(
        &mut self,
        frame: &[u8],
        shared: &Shared,
        doc: usize,
        synced: &mut bool,
    ) -> Result<Option<Vec<u8>>, String> {
        let mut decoder = DecoderV1::from(frame);
        let mut reply = None;
        for msg in MessageReader::new(&mut decoder) {
            match msg.map_err(|_| "bad_frame".to_string())? {
                Message::Sync(SyncMessage::SyncStep1(sv)) => {
                    let diff = self.doc.transact().encode_diff_v1(&sv);
                    reply = Some(Message::Sync(SyncMessage::SyncStep2(diff)).encode_v1());
                }
                Message::Sync(SyncMessage::SyncStep2(u)) => {
                    // A reconnecting editor's missed edits are deliveries; a new page's initial
                    // load is not.
                    let count = !self.fresh;
                    self.apply(&u, shared, doc, count)?;
                    self.fresh = false;
                    *synced = true;
                }
                Message::Sync(SyncMessage::Update(u)) => self.apply(&u, shared, doc, true)?,
                Message::Awareness(_) => {
                    shared
                        .stats
                        .awareness_received
                        .fetch_add(1, Ordering::Relaxed);
                }
                Message::Auth(Some(_)) => return Err("permission_denied".into()),
                _ => {}
            }
        }
        Ok(reply)
    }
}

/// Per-editor schedule derived from the scenario. A storm or offline period is taken out of
/// it when it happens: each happens once.
struct Schedule {
    edit_every: Option<Duration>,
    awareness_every: Option<Duration>,
    storm_at: Option<Instant>,
    /// (goes offline, comes back)
    offline: Option<(Instant, Instant)>,
}

/// The editor's own clock after the edit in `txn`.
fn at_clock_end(txn: &yrs::TransactionMut, client: u64) -> u32 {
    txn.insert_set()
        .get(&ClientID::new(client))
        .and_then(|r| r.clock_end())
        .unwrap_or(0)
}

fn every(rate: f64) -> Option<Duration> {
    (rate > 0.0).then(|| Duration::from_secs_f64(1.0 / rate))
}

/// A ticker first firing at a random point of its first period after `from`, so editors do not
/// edit in step.
fn ticker(from: Instant, period: Duration, rng: &mut SmallRng) -> Interval {
    let first = from.max(Instant::now()) + period.mul_f64(rng.random::<f64>());
    let mut t = tokio::time::interval_at(first, period);
    t.set_missed_tick_behavior(MissedTickBehavior::Delay);
    t
}

pub async fn run(
    index: usize,
    url: String,
    user: String,
    shared: Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) -> Outcome {
    let s = &shared.scenario;
    let doc = index / s.editors;
    let mut rng = SmallRng::seed_from_u64(index as u64 ^ 0x5eed_c0de);
    let mut sched = Schedule {
        edit_every: every(s.rate),
        awareness_every: every(s.awareness_rate),
        storm_at: s
            .storm_at
            .filter(|_| s.selected(index, s.storm_percent))
            .map(|at| shared.edit_start + at),
        offline: s
            .offline_at
            .filter(|_| s.selected(index, s.offline_percent))
            .map(|at| {
                (
                    shared.edit_start + at,
                    shared.edit_start + at + s.offline_for,
                )
            }),
    };
    let ramp = s.ramp_up.mul_f64(index as f64 / s.clients() as f64);
    sleep_until(shared.edit_start - s.ramp_up + ramp).await;

    let mut editor = Editor::fresh();
    // Nobody edits before everyone has joined, so every edit is delivered live to every editor.
    let mut edit_tick = sched
        .edit_every
        .map(|p| ticker(shared.edit_start, p, &mut rng));
    let mut first_attempt = true;
    loop {
        if *phase.borrow() == Phase::Done {
            break;
        }
        if !first_attempt {
            shared.stats.reconnects.fetch_add(1, Ordering::Relaxed);
        }
        first_attempt = false;
        let ws = match connect(&url, s.connect_timeout).await {
            Ok((ws, took)) => {
                shared.stats.connected(took);
                ws
            }
            Err(kind) => {
                shared.stats.error(kind);
                if pause(RETRY_AFTER, &mut phase).await {
                    continue;
                }
                break;
            }
        };
        let leave_at = (s.churn_per_minute > 0.0).then(|| {
            let mean = 60.0 / s.churn_per_minute;
            let u: f64 = rng.random_range(f64::EPSILON..1.0);
            Instant::now() + Duration::from_secs_f64(-u.ln() * mean)
        });
        let session = Session {
            shared: &shared,
            doc,
            user: &user,
            sched: &mut sched,
            leave_at,
        };
        let end = session
            .run(&mut editor, ws, &mut rng, &mut edit_tick, &mut phase)
            .await;
        shared.stats.disconnected();
        match end {
            End::Stop => break,
            End::Storm => {}
            End::Leave => {
                if !pause(s.churn_pause, &mut phase).await {
                    break;
                }
                // Joins again as a new page load: a new document and Yjs client id.
                editor = Editor::fresh();
            }
            End::Offline(back) => loop {
                tokio::select! {
                    _ = sleep_until(back) => break,
                    _ = tick(&mut edit_tick), if can_edit(&editor, s) => {
                        editor.edit(&mut rng, &shared, doc, false);
                    }
                }
            },
            End::Lost(kind) => {
                shared.stats.error(kind);
                if !pause(RETRY_AFTER, &mut phase).await {
                    break;
                }
            }
        }
    }
    let txn = editor.doc.transact();
    Outcome {
        doc,
        text: editor.text.get_string(&txn),
        state_vector: txn.state_vector(),
    }
}

/// How long an editor waits before reconnecting after a failed or lost connection.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Waits `d`; false if the run ended meanwhile.
async fn pause(d: Duration, phase: &mut watch::Receiver<Phase>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = phase.wait_for(|p| *p == Phase::Done) => false,
    }
}

fn can_edit(editor: &Editor, s: &Scenario) -> bool {
    s.max_edits.is_none_or(|max| editor.edits < max)
}

async fn tick(t: &mut Option<Interval>) {
    match t {
        Some(t) => {
            t.tick().await;
        }
        None => std::future::pending().await,
    }
}

struct Session<'a> {
    shared: &'a Shared,
    doc: usize,
    user: &'a str,
    sched: &'a mut Schedule,
    leave_at: Option<Instant>,
}

impl Session<'_> {
    async fn run(
        self,
        editor: &mut Editor,
        mut ws: Socket,
        rng: &mut SmallRng,
        edit_tick: &mut Option<Interval>,
        phase: &mut watch::Receiver<Phase>,
    ) -> End {
        let shared = self.shared;
        let s = &shared.scenario;
        let opened = Instant::now();
        if editor.fresh {
            editor.awaiting_content = Some(opened);
        }
        let hello = Message::Sync(SyncMessage::SyncStep1(editor.doc.transact().state_vector()));
        if let Err(e) = ws.send(Ws::Binary(hello.encode_v1().into())).await {
            return End::Lost(error_kind(&e));
        }
        let mut synced = false;
        let mut awareness_tick = self
            .sched
            .awareness_every
            .map(|p| ticker(shared.edit_start, p, rng));
        let far = Instant::now() + Duration::from_secs(365 * 24 * 3600);
        let storm_at = self.sched.storm_at.unwrap_or(far);
        let offline_at = self.sched.offline.map_or(far, |(at, _)| at);
        let leave_at = self.leave_at.unwrap_or(far);
        loop {
            let running = *phase.borrow() == Phase::Running;
            let live = synced && running;
            let outgoing = tokio::select! {
                biased;
                changed = phase.changed() => {
                    if changed.is_err() || *phase.borrow() == Phase::Done {
                        close(&mut ws).await;
                        return End::Stop;
                    }
                    None
                }
                _ = sleep_until(storm_at), if self.sched.storm_at.is_some() && running => {
                    self.sched.storm_at = None;
                    return End::Storm; // dropping the socket: no close frame, like a lost network
                }
                _ = sleep_until(offline_at), if self.sched.offline.is_some() && running => {
                    let (_, back) = self.sched.offline.take().expect("checked above");
                    return End::Offline(back);
                }
                _ = sleep_until(leave_at), if running => {
                    close(&mut ws).await;
                    return End::Leave;
                }
                frame = ws.next() => match frame {
                    Some(Ok(Ws::Binary(b))) => {
                        let stats = &shared.stats;
                        stats.frames_received.fetch_add(1, Ordering::Relaxed);
                        stats.bytes_received.fetch_add(b.len() as u64, Ordering::Relaxed);
                        let was_synced = synced;
                        match editor.receive(&b, shared, self.doc, &mut synced) {
                            Ok(reply) => {
                                if synced && !was_synced {
                                    stats.synced(opened.elapsed());
                                }
                                reply
                            }
                            Err(kind) => return End::Lost(kind),
                        }
                    }
                    Some(Ok(Ws::Close(frame))) => {
                        let code = frame.map_or(1005, |f| u16::from(f.code));
                        return End::Lost(format!("closed_{code}"));
                    }
                    Some(Ok(_)) => None,
                    Some(Err(e)) => return End::Lost(error_kind(&e)),
                    None => return End::Lost("closed_1006".into()),
                },
                _ = tick(edit_tick), if live && can_edit(editor, s) => {
                    Some(editor.edit(rng, shared, self.doc, true))
                }
                _ = tick(&mut awareness_tick), if live => {
                    shared.stats.awareness_sent.fetch_add(1, Ordering::Relaxed);
                    Some(editor.awareness(self.user))
                }
            };
            if let Some(frame) = outgoing {
                if let Err(e) = ws.send(Ws::Binary(frame.into())).await {
                    return End::Lost(error_kind(&e));
                }
            }
        }
    }
}

async fn close(ws: &mut Socket) {
    let frame = CloseFrame {
        code: CloseCode::Normal,
        reason: "".into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(Some(frame))).await;
}

async fn connect(url: &str, timeout: Duration) -> Result<(Socket, Duration), String> {
    let started = Instant::now();
    match tokio::time::timeout(
        timeout,
        // tungstenite zero-fills its whole read buffer before every read; its 128 KiB default
        // made that memset a quarter of the tool's CPU. Server frames here are small.
        tokio_tungstenite::connect_async_with_config(
            url,
            Some(WebSocketConfig::default().read_buffer_size(READ_BUFFER)),
            true,
        ),
    )
    .await
    {
        Err(_) => Err("connect_timeout".into()),
        Ok(Err(e)) => Err(error_kind(&e)),
        Ok(Ok((ws, _))) => Ok((ws, started.elapsed())),
    }
}

/// A short, countable name for a WebSocket error.
fn error_kind(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Http(resp) => format!("http_{}", resp.status().as_u16()),
        tungstenite::Error::Io(io) => format!("io_{:?}", io.kind()).to_lowercase(),
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            "closed_1006".into()
        }
        tungstenite::Error::Protocol(_) => "ws_protocol".into(),
        tungstenite::Error::Capacity(_) => "ws_capacity".into(),
        _ => "ws_other".into(),
    }
}
