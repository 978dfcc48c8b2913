//! `creo-burst`: one writer sends `--updates` small Yjs updates as fast as it can (an import
//! script, an AI agent, a long offline queue flushed at once) while an observer on the same
//! document waits for all of them. Reports the intake time, from the first update sent to the
//! last one seen by the observer, and whether the writer was closed on the way. Works against
//! creo and any y-websocket server (`--url` with `{doc}` and, for creo, `{token}`).

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message as Ws;
use yrs::sync::{Message, SyncMessage};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, GetString, ReadTxn, Text, Transact, Update};

#[derive(Parser, Debug)]
#[command(about = "Times how long a server takes in a burst of updates from one writer")]
struct Args {
    /// WebSocket URL; `{doc}` is replaced by the document id, `{token}` by a token minted with
    /// creo's configured key.
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 20_000)]
    updates: usize,
    #[arg(long, default_value = "burst")]
    doc: String,
    /// Give up after this long.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Write the result as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    #[arg(long, default_value = "")]
    label: String,
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn url(args: &Args, user: &str) -> anyhow::Result<String> {
    let mut url = args.url.replace("{doc}", &args.doc);
    if url.contains("{token}") {
        let config = creo::config::Config::load().context("reading creo's configuration")?;
        let keys = creo::auth::TokenKeys::from_config(&config)?;
        let token = keys.mint(
            user,
            "bench",
            creo::auth::Role::Editor,
            None,
            Duration::from_secs(3600),
        )?;
        url = url.replace("{token}", &token);
    }
    Ok(url)
}

/// Connects and completes the y-sync handshake: our SyncStep1 answered, theirs answered.
async fn connect(url: &str, doc: &Doc) -> anyhow::Result<Socket> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let sv = doc.transact().state_vector();
    ws.send(Ws::Binary(
        Message::Sync(SyncMessage::SyncStep1(sv)).encode_v1().into(),
    ))
    .await?;
    while let Some(frame) = ws.next().await {
        if let Ws::Binary(b) = frame? {
            match Message::decode_v1(&b) {
                Ok(Message::Sync(SyncMessage::SyncStep1(sv))) => {
                    let diff = doc.transact().encode_diff_v1(&sv);
                    ws.send(Ws::Binary(
                        Message::Sync(SyncMessage::SyncStep2(diff))
                            .encode_v1()
                            .into(),
                    ))
                    .await?;
                }
                Ok(Message::Sync(SyncMessage::SyncStep2(u))) => {
                    doc.transact_mut().apply_update(Update::decode_v1(&u)?)?;
                    return Ok(ws);
                }
                _ => {}
            }
        }
    }
    bail!("{url} closed before the handshake finished")
}

#[derive(serde::Serialize)]
struct Outcome {
    label: String,
    updates: usize,
    received: usize,
    intake_ms: Option<f64>,
    send_ms: f64,
    writer_closed: Option<u16>,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let writer_doc = Doc::new();
    let observer_doc = Doc::new();
    // Users of their own per document: one run does not spend the next one's rate.
    let writer = connect(&url(&args, &format!("writer-{}", args.doc))?, &writer_doc).await?;
    let observer = connect(
        &url(&args, &format!("observer-{}", args.doc))?,
        &observer_doc,
    )
    .await?;
    let text = writer_doc.get_or_insert_text("post");
    let seen = observer_doc.get_or_insert_text("post");
    let base = seen.get_string(&observer_doc.transact()).chars().count();
    let target = base + args.updates;

    // The observer applies what arrives until it has every update.
    let done = tokio::spawn({
        let (doc, seen) = (observer_doc.clone(), seen.clone());
        async move {
            let mut observer = observer;
            let deadline = tokio::time::sleep(args.timeout);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = &mut deadline => return None,
                    frame = observer.next() => {
                        let Some(Ok(Ws::Binary(b))) = frame else { return None };
                        if let Ok(Message::Sync(SyncMessage::Update(u) | SyncMessage::SyncStep2(u))) = Message::decode_v1(&b) {
                            if let Ok(u) = Update::decode_v1(&u) {
                                let _ = doc.transact_mut().apply_update(u);
                            }
                            if seen.len(&doc.transact()) as usize >= target {
                                return Some(Instant::now());
                            }
                        }
                    }
                }
            }
        }
    });

    // The writer: one update per character, each its own message, as fast as the socket takes
    // them; what the server sends it meanwhile is read (and a close noted).
    let started = Instant::now();
    let (mut sink, mut stream) = writer.split();
    let closed = tokio::spawn(async move {
        while let Some(frame) = stream.next().await {
            match frame {
                Ok(Ws::Close(f)) => return f.map(|f| u16::from(f.code)),
                Ok(_) => {}
                Err(_) => return Some(1006),
            }
        }
        None
    });
    for i in 0..args.updates {
        let update = {
            let mut txn = writer_doc.transact_mut();
            let end = text.len(&txn);
            text.insert(&mut txn, end, "x");
            txn.encode_update_v1()
        };
        let frame = Message::Sync(SyncMessage::Update(update)).encode_v1();
        if sink.feed(Ws::Binary(frame.into())).await.is_err() {
            break;
        }
        if i % 256 == 255 && sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.flush().await;
    let send_ms = started.elapsed().as_secs_f64() * 1e3;
    let finished = done.await?;
    let received = seen.get_string(&observer_doc.transact()).chars().count() - base;
    let _ = sink.close().await;
    let writer_closed = match tokio::time::timeout(Duration::from_millis(500), closed).await {
        Ok(Ok(code)) => code,
        _ => None,
    };
    let outcome = Outcome {
        label: args.label.clone(),
        updates: args.updates,
        received,
        intake_ms: finished.map(|at| (at - started).as_secs_f64() * 1e3),
        send_ms,
        // Our own close at the end (1000) is not the server's doing.
        writer_closed: writer_closed.filter(|c| *c != 1000),
    };
    match outcome.intake_ms {
        Some(ms) => println!(
            "{}: {} updates taken in {ms:.0} ms (sent in {send_ms:.0} ms){}",
            args.label,
            args.updates,
            outcome
                .writer_closed
                .map(|c| format!("; writer closed with {c}"))
                .unwrap_or_default()
        ),
        None => println!(
            "{}: only {received} of {} updates arrived within {:?}",
            args.label, args.updates, args.timeout
        ),
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&outcome)?)?;
    }
    if outcome.intake_ms.is_none() {
        std::process::exit(2);
    }
    Ok(())
}
