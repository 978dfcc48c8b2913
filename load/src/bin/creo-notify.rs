//! `creo-notify`: measures how creo tells people things. It registers an owner and
//! `--recipients` admins of one account (real sign-ups, invitations and acceptances), then:
//!
//! - fan-out: the owner submits a document for review, which files one notification in each
//!   admin's inbox; the time from the request to the last one filed (the server's
//!   `creo_notifications_total` counter) gives notifications per second, over `--rounds`
//!   submissions. The baseline in the same run is one-recipient events: mentions of one admin,
//!   one after another, as notifications per second.
//! - mention-to-bell: one admin holds the live inbox stream a bell listens to; the owner mentions
//!   them `--samples` times; the time from sending the comment to the event on the stream, next
//!   to the comment request's own round trip (the baseline), as p50 and p99.
//!
//! The server should not rate-limit or seat-limit the account (`CREO_TIERS__FREE__SEATS`, the
//! request limits; load/bench.sh N1 sets them) and should hash passwords cheaply.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use futures_util::{StreamExt, TryStreamExt};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(about = "Measures notification fan-out and mention-to-bell latency")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value_t = 1000)]
    recipients: usize,
    /// Review submissions, each to every recipient.
    #[arg(long, default_value_t = 5)]
    rounds: usize,
    /// Mentions timed to the live stream (and one-recipient events for the baseline).
    #[arg(long, default_value_t = 200)]
    samples: usize,
    /// Sign-ups in flight while the account is filled.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

const PASSWORD: &str = "bench password 0123456789";

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .post(format!("{}/api/v1{path}", self.base))
            .json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let text = resp.text().await?;
        if !status.is_success() {
            bail!("{path}: {status} {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Signs up and in: the token pair's answer.
    async fn person(&self, email: &str) -> anyhow::Result<Value> {
        self.post(
            "/auth/register",
            None,
            json!({ "email": email, "password": PASSWORD, "name": email }),
        )
        .await?;
        self.post(
            "/auth/login",
            None,
            json!({ "email": email, "password": PASSWORD }),
        )
        .await
    }

    /// The server's count of notifications filed of `kind`.
    async fn filed(&self, kind: &str) -> anyhow::Result<f64> {
        let body = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await?
            .text()
            .await?;
        let key = format!("creo_notifications_total{{kind=\"{kind}\"}}");
        Ok(body
            .lines()
            .find_map(|l| l.strip_prefix(&key))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0))
    }

    async fn wait_filed(&self, kind: &str, target: f64) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.filed(kind).await? < target {
            if Instant::now() > deadline {
                bail!("{kind} notifications never reached {target}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let c = Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()?,
        base: args.url.trim_end_matches('/').to_string(),
    };
    let run = std::process::id();
    let tokens = c.person(&format!("owner-{run}@bench.example.com")).await?;
    let owner = tokens["access_token"]
        .as_str()
        .context("access_token")?
        .to_string();
    let account_id = tokens["account_id"]
        .as_str()
        .context("account_id")?
        .to_string();

    let started = Instant::now();
    let recipients: Vec<(String, String)> = futures_util::stream::iter(0..args.recipients)
        .map(|i| {
            let (c, owner, account_id) = (&c, &owner, &account_id);
            async move {
                let email = format!("admin-{run}-{i}@bench.example.com");
                let tokens = c.person(&email).await?;
                let user_id = tokens["user_id"].as_str().unwrap_or_default().to_string();
                let token = tokens["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let inv = c
                    .post(
                        &format!("/accounts/{account_id}/invitations"),
                        Some(owner),
                        json!({ "email": email, "role": "admin" }),
                    )
                    .await?;
                c.post(
                    "/invitations/accept",
                    Some(&token),
                    json!({ "token": inv["token"] }),
                )
                .await?;
                let t = c
                    .post(
                        "/auth/login",
                        None,
                        json!({ "email": email, "password": PASSWORD, "account_id": account_id }),
                    )
                    .await?;
                Ok::<_, anyhow::Error>((
                    user_id,
                    t["access_token"].as_str().unwrap_or_default().to_string(),
                ))
            }
        })
        .buffer_unordered(args.concurrency)
        .try_collect()
        .await?;
    eprintln!(
        "{} admins joined in {:.1} s",
        recipients.len(),
        started.elapsed().as_secs_f64()
    );

    let doc = c
        .post("/documents", Some(&owner), json!({ "title": "Fan-out" }))
        .await?;
    let doc = doc["doc_id"].as_str().context("doc_id")?.to_string();
    let workflow = format!("/documents/{doc}/workflow");

    // Fan-out: each submission files one notification per admin.
    let mut rates = Vec::new();
    for round in 0..args.rounds {
        let before = c.filed("review_requested").await?;
        let t0 = Instant::now();
        c.post(&workflow, Some(&owner), json!({ "action": "submit" }))
            .await?;
        c.wait_filed("review_requested", before + args.recipients as f64)
            .await?;
        let took = t0.elapsed();
        rates.push(args.recipients as f64 / took.as_secs_f64());
        eprintln!(
            "round {round}: {} notifications in {:.1} ms",
            args.recipients,
            took.as_secs_f64() * 1e3
        );
        c.post(
            &workflow,
            Some(&recipients[0].1),
            json!({ "action": "request_changes", "note": "again" }),
        )
        .await?;
    }
    rates.sort_by(f64::total_cmp);

    // Baseline: one-recipient events, one after another.
    let (target_id, target_token) = &recipients[0];
    let comments = format!("/documents/{doc}/comments");
    let before = c.filed("mention").await?;
    let t0 = Instant::now();
    for i in 0..args.samples {
        c.post(
            &comments,
            Some(&owner),
            json!({ "body": format!("@{target_id} single {i}") }),
        )
        .await?;
    }
    c.wait_filed("mention", before + args.samples as f64)
        .await?;
    let single_rate = args.samples as f64 / t0.elapsed().as_secs_f64();

    // Mention to bell: the recipient's live stream, as the editor's bell holds it.
    let resp = c
        .http
        .get(format!("{}/api/v1/users/me/notifications/stream", c.base))
        .bearer_auth(target_token)
        .send()
        .await?;
    if !resp.status().is_success() {
        bail!("stream: {}", resp.status());
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, String)>();
    tokio::spawn(async move {
        let mut body = resp.bytes_stream();
        let mut buf = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            let at = Instant::now();
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                    let _ = tx.send((at, data.to_string()));
                }
            }
        }
    });
    let mut bell = Histogram::<u64>::new(3)?;
    let mut round_trip = Histogram::<u64>::new(3)?;
    for i in 0..args.samples {
        let marker = format!("bell {run} {i}");
        let t0 = Instant::now();
        c.post(
            &comments,
            Some(&owner),
            json!({ "body": format!("@{target_id} {marker}") }),
        )
        .await?;
        round_trip.record(t0.elapsed().as_micros() as u64)?;
        loop {
            let (at, data) = tokio::time::timeout(Duration::from_secs(10), rx.recv())
                .await
                .context("no event on the stream within 10 s")?
                .context("the stream ended")?;
            if data.contains(&marker) {
                bell.record(at.duration_since(t0).as_micros() as u64)?;
                break;
            }
        }
    }

    let median = rates[rates.len() / 2];
    println!(
        "creo-notify: {} recipients, {} rounds, {} samples",
        args.recipients, args.rounds, args.samples
    );
    println!(
        "  fan-out         {median:>9.0} notifications/s into inboxes (median of {} rounds; min {:.0}, max {:.0})",
        rates.len(),
        rates[0],
        rates[rates.len() - 1]
    );
    println!("  one recipient   {single_rate:>9.0} notifications/s (baseline: mentions one after another)");
    println!("  ratio           {:>9.1}x", median / single_rate);
    println!(
        "  mention -> bell p50 {:.2} ms  p99 {:.2} ms   comment round trip p50 {:.2} ms  p99 {:.2} ms",
        ms(&bell, 0.5),
        ms(&bell, 0.99),
        ms(&round_trip, 0.5),
        ms(&round_trip, 0.99)
    );
    Ok(())
}
