//! `creo-publish`: measures scheduled publishing to channels against a running server (with
//! RabbitMQ or with its store queue, as the server is configured).
//!
//! Two accounts connect `--channels` webhook channels (half each; an account holds at most 50)
//! to a local receiver this tool runs. `--posts` approved posts, each to one channel in turn,
//! are all scheduled for the same instant, a burst like a campaign going out at 09:00. Reported:
//! posts out per second from that instant to the last arrival, and each post's lateness (its
//! arrival against the instant), p50 / p99 / max. The baseline, in the same run: this tool
//! POSTing the same bodies, signed, straight to the same receiver, `--concurrency` at a time
//! (the server's `job_prefetch`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures_util::{stream, StreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use yrs::{Text, Transact};

#[path = "../receiver.rs"]
mod receiver;

#[derive(Parser, Debug)]
#[command(about = "Measures publishing throughput and lateness across many channels")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value_t = 500)]
    posts: usize,
    #[arg(long, default_value_t = 100)]
    channels: usize,
    /// Requests in flight while preparing, and in the baseline.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Clone)]
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
        body: reqwest::Body,
        json: bool,
    ) -> anyhow::Result<(u16, Value)> {
        let resp = self
            .client
            .request(method, format!("{}{path}", self.url))
            .bearer_auth(&self.token)
            .header(
                "Content-Type",
                if json {
                    "application/json"
                } else {
                    "application/octet-stream"
                },
            )
            .body(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let (status, v) = self
            .send(
                reqwest::Method::POST,
                path,
                serde_json::to_vec(&body)?.into(),
                true,
            )
            .await?;
        if !(200..300).contains(&status) {
            bail!("POST {path} answered {status}: {v}");
        }
        Ok(v)
    }
}

/// A new person with their own account, signed in.
async fn person(client: &reqwest::Client, url: &str, n: usize) -> anyhow::Result<(Api, String)> {
    let api = Api {
        client: client.clone(),
        url: url.to_string(),
        token: String::new(),
    };
    let email = format!("publish-{}-{n}@example.com", std::process::id());
    let credentials = json!({ "email": email, "password": "benchmark password" });
    let (status, v) = api
        .send(
            reqwest::Method::POST,
            "/api/v1/auth/register",
            serde_json::to_vec(&credentials)?.into(),
            true,
        )
        .await?;
    if status != 202 {
        bail!("register answered {status}: {v}");
    }
    let v = api.post("/api/v1/auth/login", credentials).await?;
    let account = v["account_id"].as_str().context("account_id")?.to_string();
    let token = v["access_token"]
        .as_str()
        .context("access_token")?
        .to_string();
    Ok((Api { token, ..api }, account))
}

/// A post with text, submitted and approved by its owner.
async fn approved(api: &Api, doc_id: &str) -> anyhow::Result<()> {
    api.post(
        "/api/v1/documents",
        json!({ "id": doc_id, "title": doc_id }),
    )
    .await?;
    let update = {
        let doc = yrs::Doc::new();
        let text = doc.get_or_insert_text("post");
        let mut txn = doc.transact_mut();
        text.insert(&mut txn, 0, &format!("Campaign post {doc_id} #launch"));
        txn.encode_update_v1()
    };
    let (status, v) = api
        .send(
            reqwest::Method::POST,
            &format!("/api/v1/documents/{doc_id}/updates"),
            update.into(),
            false,
        )
        .await?;
    if status != 200 {
        bail!("update answered {status}: {v}");
    }
    for action in ["submit", "approve"] {
        api.post(
            &format!("/api/v1/documents/{doc_id}/workflow"),
            json!({ "action": action }),
        )
        .await?;
    }
    Ok(())
}

fn percentile(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    // What arrived: each post's doc id, when.
    let arrivals: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let hook = {
        let arrivals = arrivals.clone();
        receiver::receiver(move |body| {
            let doc = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["doc_id"].as_str().map(str::to_string))
                .unwrap_or_default();
            arrivals
                .lock()
                .expect("arrivals")
                .push((creo::store::now_ms(), doc));
        })
        .await?
    };

    let accounts = [
        person(&client, &args.url, 0).await?,
        person(&client, &args.url, 1).await?,
    ];
    let mut channels: Vec<(usize, String)> = Vec::new();
    for i in 0..args.channels {
        let owner = i % 2;
        let (api, account) = &accounts[owner];
        let made = api
            .post(
                &format!("/api/v1/accounts/{account}/channels"),
                json!({ "name": format!("channel {i}"), "url": hook }),
            )
            .await?;
        channels.push((
            owner,
            made["channel_id"]
                .as_str()
                .context("channel_id")?
                .to_string(),
        ));
    }

    let prepared = Instant::now();
    let posts: Vec<(usize, String, String)> = (0..args.posts)
        .map(|i| {
            let (owner, channel) = channels[i % channels.len()].clone();
            (owner, format!("pub-{}-{i}", std::process::id()), channel)
        })
        .collect();
    let failures = AtomicUsize::new(0);
    stream::iter(posts.iter())
        .for_each_concurrent(args.concurrency, |(owner, doc, _)| {
            let (api, failures) = (&accounts[*owner].0, &failures);
            async move {
                if let Err(e) = approved(api, doc).await {
                    eprintln!("{doc}: {e:#}");
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await;
    if failures.load(Ordering::Relaxed) > 0 {
        bail!(
            "{} posts could not be prepared",
            failures.load(Ordering::Relaxed)
        );
    }
    eprintln!(
        "prepared {} approved posts in {:.1?}",
        posts.len(),
        prepared.elapsed()
    );

    // One instant for all: far enough ahead for every schedule request to land before it.
    let lead_ms = 5_000 + posts.len() as i64 * 20;
    let instant = (creo::store::now_ms() + lead_ms).div_euclid(1000) * 1000 + 1000;
    let at = chrono::DateTime::from_timestamp_millis(instant)
        .context("instant")?
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string();
    stream::iter(posts.iter())
        .for_each_concurrent(args.concurrency, |(owner, doc, channel)| {
            let (api, failures, at) = (&accounts[*owner].0, &failures, &at);
            async move {
                let body = json!({ "action": "schedule", "at": at, "timezone": "UTC", "targets": [{ "channel_id": channel }] });
                if let Err(e) = api.post(&format!("/api/v1/documents/{doc}/workflow"), body).await {
                    eprintln!("{doc}: {e:#}");
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
        .await;
    if failures.load(Ordering::Relaxed) > 0 {
        bail!(
            "{} posts could not be scheduled",
            failures.load(Ordering::Relaxed)
        );
    }
    let now = creo::store::now_ms();
    if now >= instant {
        bail!(
            "scheduling took past the instant ({} ms late): use fewer posts",
            now - instant
        );
    }
    eprintln!(
        "scheduled {} posts for {at} UTC, {} ms from now",
        posts.len(),
        instant - now
    );

    let deadline =
        Instant::now() + Duration::from_millis((instant - now) as u64) + Duration::from_secs(180);
    while arrivals.lock().expect("arrivals").len() < posts.len() {
        if Instant::now() > deadline {
            bail!(
                "only {} of {} posts arrived",
                arrivals.lock().expect("arrivals").len(),
                posts.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let got = arrivals.lock().expect("arrivals").clone();
    let mut per_doc: HashMap<&str, usize> = HashMap::new();
    for (_, doc) in &got {
        *per_doc.entry(doc.as_str()).or_default() += 1;
    }
    let twice = per_doc.values().filter(|n| **n > 1).count();
    let mut lateness = Histogram::<u64>::new(3)?;
    for (arrived, _) in &got {
        lateness.record((arrived - instant).max(0) as u64)?;
    }
    let last = got.iter().map(|(t, _)| *t).max().context("arrivals")?;
    let span = (last - instant).max(1) as f64 / 1000.0;
    let throughput = posts.len() as f64 / span;

    // The baseline: the same number of signed bodies straight to the receiver.
    arrivals.lock().expect("arrivals").clear();
    let body = serde_json::to_vec(
        &json!({ "event": "document.published", "doc_id": "baseline", "text": "Campaign post #launch" }),
    )?;
    let started = Instant::now();
    stream::iter(0..posts.len())
        .for_each_concurrent(args.concurrency, |_| {
            let (client, hook, body) = (&client, &hook, body.clone());
            async move {
                let signature =
                    creo::billing::webhook::sign(b"secret", creo::store::now_ms() / 1000, &body);
                let _ = client
                    .post(hook)
                    .header("Creo-Signature", signature)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await;
            }
        })
        .await;
    let direct = posts.len() as f64 / started.elapsed().as_secs_f64();

    println!(
        "publishing {} posts to {} channels, all due at one instant",
        posts.len(),
        channels.len()
    );
    println!("  posts out per second (instant → last):   {throughput:>8.0} /s");
    println!("  direct signed POSTs (baseline):          {direct:>8.0} /s");
    println!(
        "  ratio:                                   {:>8.2}",
        throughput / direct
    );
    println!(
        "  lateness p50 / p99 / max (ms):           {:.0} / {:.0} / {:.0}",
        percentile(&lateness, 0.5),
        percentile(&lateness, 0.99),
        lateness.max() as f64
    );
    println!("  posts delivered twice:                   {twice}");
    Ok(())
}
