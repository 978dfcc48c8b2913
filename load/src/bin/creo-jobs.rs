//! `creo-jobs`: measures creo's job path against a running server (with RabbitMQ or with its
//! store queue, as the server is configured).
//!
//! 1. Throughput. Webhook deliveries are the jobs: `--endpoints` endpoints subscribe to
//!    `comment.added` on a local receiver this tool runs, and `--comments` comments are posted,
//!    so each comment becomes one delivery job per endpoint. Reported: jobs delivered per
//!    second, from the first comment to the last delivery. The baseline, in the same run: this
//!    tool POSTing the same number of signed bodies straight to the same receiver with the
//!    server's concurrency (`--concurrency`, the server's `job_prefetch`).
//! 2. Latency to the editors' sockets: from the request to the event on a socket listening
//!    for events (`?events=1`): a comment (no job), and a generation of four variations (a job
//!    through the queue and the inference pool; skipped when the server has no models).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

#[path = "../receiver.rs"]
mod receiver;

#[derive(Parser, Debug)]
#[command(about = "Measures creo's job throughput and request-to-socket latency")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's CREO_BILLING_WEBHOOK_SECRET, to top the account up for generations.
    #[arg(long, env = "CREO_BILLING_WEBHOOK_SECRET")]
    webhook_secret: String,
    #[arg(long, default_value_t = 250)]
    comments: usize,
    #[arg(long, default_value_t = 20)]
    endpoints: usize,
    /// Deliveries in flight in the baseline (match the server's job_prefetch).
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Latency samples per kind (0 skips generations).
    #[arg(long, default_value_t = 30)]
    samples: usize,
}

struct Api {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(serde_json::to_vec(&b)?);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<(u16, Value)> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
}

async fn setup(client: &reqwest::Client, args: &Args) -> anyhow::Result<(Api, String)> {
    let email = format!("jobs-{}@example.com", std::process::id());
    let (status, v) = Api {
        client: client.clone(),
        url: args.url.clone(),
        token: String::new(),
    }
    .post(
        "/api/v1/auth/register",
        json!({ "email": email, "password": "benchmark password" }),
    )
    .await?;
    if status != 202 {
        bail!("register answered {status}: {v}");
    }
    let (status, v) = Api {
        client: client.clone(),
        url: args.url.clone(),
        token: String::new(),
    }
    .post(
        "/api/v1/auth/login",
        json!({ "email": email, "password": "benchmark password" }),
    )
    .await?;
    if status != 200 {
        bail!("login answered {status}: {v}");
    }
    let account = v["account_id"].as_str().context("account_id")?.to_string();
    let token = v["access_token"]
        .as_str()
        .context("access_token")?
        .to_string();
    let event = json!({ "id": format!("jobs-{}", std::process::id()), "type": "credits.purchased",
        "data": { "account_id": account, "credits_milli": 1_000_000_000i64 } });
    let body = serde_json::to_vec(&event)?;
    let t = creo::store::now_ms() / 1000;
    let resp = client
        .post(format!("{}/api/v1/billing/webhook", args.url))
        .header(
            "Creo-Signature",
            creo::billing::webhook::sign(args.webhook_secret.as_bytes(), t, &body),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("top-up answered {}", resp.status());
    }
    Ok((
        Api {
            client: client.clone(),
            url: args.url.clone(),
            token,
        },
        account,
    ))
}

/// Waits until `arrivals` holds `n`; the instant of the last.
async fn all_arrived(
    arrivals: &Mutex<Vec<Instant>>,
    n: usize,
    limit: Duration,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + limit;
    loop {
        {
            let got = arrivals.lock().expect("arrivals");
            if got.len() >= n {
                return Ok(*got.iter().max().expect("some"));
            }
            if Instant::now() > deadline {
                bail!("only {} of {n} arrived", got.len());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The baseline: `n` signed POSTs straight to the receiver, `concurrency` at a time.
async fn direct(client: &reqwest::Client, url: &str, n: usize, concurrency: usize) -> Duration {
    let next = Arc::new(AtomicU64::new(0));
    let body = serde_json::to_vec(
        &json!({ "type": "comment.added", "data": { "comment": { "body": "x".repeat(200) } } }),
    )
    .expect("json");
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, next, body) =
                (client.clone(), url.to_string(), next.clone(), body.clone());
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n as u64 {
                    let signature = creo::billing::webhook::sign(
                        b"secret",
                        creo::store::now_ms() / 1000,
                        &body,
                    );
                    let _ = client
                        .post(&url)
                        .header("Creo-Signature", signature)
                        .header("Content-Type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    started.elapsed()
}

/// A socket on `doc` that listens for events; yields each event's JSON.
async fn events(
    args: &Args,
    api: &Api,
    doc: &str,
) -> anyhow::Result<tokio::sync::mpsc::UnboundedReceiver<(Instant, Value)>> {
    let ws = format!(
        "{}/ws/{doc}?token={}&events=1",
        args.url.replace("http://", "ws://"),
        api.token
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(&ws).await?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(Ok(msg)) = socket.next().await {
            let Message::Binary(frame) = msg else {
                continue;
            };
            // Message type 101, then the JSON as a length-prefixed string.
            if frame.first() != Some(&101) {
                continue;
            }
            let mut i = 1;
            while frame.get(i).is_some_and(|b| b & 0x80 != 0) {
                i += 1;
            }
            if let Ok(v) = serde_json::from_slice::<Value>(&frame[i + 1..]) {
                if tx.send((Instant::now(), v)).is_err() {
                    return;
                }
            }
        }
    });
    Ok(rx)
}

fn line(name: &str, h: &Histogram<u64>) {
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{name:<44} {:>6} {:>9.2} {:>9.2} {:>9.2}",
        h.len(),
        ms(0.5),
        ms(0.99),
        h.max() as f64 / 1000.0
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder().tcp_nodelay(true).build()?;
    let arrivals: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let hook = {
        let arrivals = arrivals.clone();
        receiver::receiver(move |_| arrivals.lock().expect("arrivals").push(Instant::now())).await?
    };
    let jobs = args.comments * args.endpoints;

    let baseline = direct(&client, &hook, jobs, args.concurrency).await;
    arrivals.lock().expect("arrivals").clear();

    let (api, account) = setup(&client, &args).await?;
    let (status, v) = api
        .post(
            "/api/v1/documents",
            json!({ "id": format!("jobs-{}", std::process::id()) }),
        )
        .await?;
    if status != 201 {
        bail!("creating the document answered {status}: {v}");
    }
    let doc = v["doc_id"]
        .as_str()
        .unwrap_or(&format!("jobs-{}", std::process::id()))
        .to_string();
    let mut endpoints = Vec::new();
    for _ in 0..args.endpoints {
        let (status, v) = api
            .post(
                &format!("/api/v1/accounts/{account}/webhooks"),
                json!({ "url": hook, "events": ["comment.added"] }),
            )
            .await?;
        if status != 201 {
            bail!("registering an endpoint answered {status}: {v}");
        }
        endpoints.push(
            v["endpoint_id"]
                .as_str()
                .context("endpoint_id")?
                .to_string(),
        );
    }
    let started = Instant::now();
    let api = Arc::new(api);
    let next = Arc::new(AtomicU64::new(0));
    let posters: Vec<_> = (0..8)
        .map(|_| {
            let (api, next, doc, n) =
                (api.clone(), next.clone(), doc.clone(), args.comments as u64);
            tokio::spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let _ = api
                        .post(
                            &format!("/api/v1/documents/{doc}/comments"),
                            json!({ "body": "x".repeat(200) }),
                        )
                        .await;
                }
            })
        })
        .collect();
    for p in posters {
        let _ = p.await;
    }
    let posted = started.elapsed();
    let last = all_arrived(&arrivals, jobs, Duration::from_secs(600)).await?;
    let through_creo = last - started;
    println!(
        "throughput ({} comments x {} endpoints = {jobs} delivery jobs)",
        args.comments, args.endpoints
    );
    println!(
        "  direct POSTs to the receiver (baseline): {:>8.0} /s",
        jobs as f64 / baseline.as_secs_f64()
    );
    println!(
        "  delivery jobs through creo's queue:      {:>8.0} /s  (ratio {:.2}; comments posted in {:.2} s)",
        jobs as f64 / through_creo.as_secs_f64(),
        baseline.as_secs_f64() / through_creo.as_secs_f64(),
        posted.as_secs_f64()
    );

    // Latency to the socket, with the queue idle: the endpoints go first, so the probes queue
    // no deliveries of their own.
    for id in endpoints {
        let path = format!("/api/v1/accounts/{account}/webhooks/{id}");
        api.send(reqwest::Method::DELETE, &path, None).await?;
    }
    let mut rx = events(&args, &api, &doc).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    while rx.try_recv().is_ok() {}
    let mut comments = Histogram::<u64>::new(3)?;
    for i in 0..args.samples {
        let body = format!("latency probe {i}");
        let sent = Instant::now();
        api.post(
            &format!("/api/v1/documents/{doc}/comments"),
            json!({ "body": body }),
        )
        .await?;
        loop {
            let (at, v) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await?
                .context("socket closed")?;
            if v["comment"]["body"] == body.as_str() {
                comments.record((at - sent).as_micros() as u64)?;
                break;
            }
        }
    }
    println!(
        "{:<44} {:>6} {:>9} {:>9} {:>9}",
        "request -> event on the socket", "n", "p50 ms", "p99 ms", "max ms"
    );
    line("comment (REST, no job)", &comments);
    if args.samples > 0 {
        // Something to vary: the comments above went to the webhooks, the post is the text.
        let update = {
            use yrs::{Text, Transact};
            let d = yrs::Doc::new();
            let t = d.get_or_insert_text("post");
            let mut txn = d.transact_mut();
            t.insert(&mut txn, 0, "Our autumn menu is here! Pumpkin soup, roasted chestnuts and warm cider. Come by this weekend. #autumn");
            txn.encode_update_v1()
        };
        api.client
            .post(format!("{}/api/v1/documents/{doc}/updates", api.url))
            .bearer_auth(&api.token)
            .body(update)
            .send()
            .await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut generations = Histogram::<u64>::new(3)?;
        let mut embeds = Histogram::<u64>::new(3)?;
        for _ in 0..args.samples {
            let sent = Instant::now();
            let (status, v) = api
                .post(&format!("/api/v1/documents/{doc}/generations"), json!({}))
                .await?;
            if status != 202 {
                println!("generations skipped: {status} {v}");
                break;
            }
            let id = v["generation_id"]
                .as_str()
                .context("generation_id")?
                .to_string();
            loop {
                let (at, v) = tokio::time::timeout(Duration::from_secs(30), rx.recv())
                    .await?
                    .context("socket closed")?;
                if v["generation"]["generation_id"] == id.as_str() {
                    generations.record((at - sent).as_micros() as u64)?;
                    break;
                }
            }
            // The baseline: the same model answering five texts (the post's sentences, its
            // whole, the variations) in one synchronous call.
            let texts =
                vec!["Our autumn menu is here! Pumpkin soup, roasted chestnuts and warm cider."; 5];
            let sent = Instant::now();
            let (status, _) = api
                .post("/api/v1/ai/embed", json!({ "texts": texts }))
                .await?;
            if status == 200 {
                embeds.record(sent.elapsed().as_micros() as u64)?;
            }
        }
        if !generations.is_empty() {
            line("generation of 4 variations (queue + pool)", &generations);
            line("embed 5 texts synchronously (baseline)", &embeds);
            println!(
                "  generation p50 / embed p50: {:.2}",
                generations.value_at_quantile(0.5) as f64
                    / embeds.value_at_quantile(0.5).max(1) as f64
            );
        }
    }
    Ok(())
}
