//! `creo-charges`: measures creo's charge path. It registers accounts, tops them up through the
//! signed payment webhook, then keeps `--concurrency` charges in flight (each with its own
//! Idempotency-Key, spread over the accounts) for `--duration`, and reports charges per second
//! and latency percentiles. The baseline, measured in the same run against the same server, is an
//! authenticated read of the account (HTTP, token check and the account actor's cached lookup,
//! no store write): the ratio shows what the ledger write itself costs.
//!
//! The server must accept the webhook secret given here and should not rate-limit the accounts
//! (`CREO_TIERS__FREE__REQUESTS_PER_SECOND=0`, `..._PER_HOUR=0`), or the limiter is measured.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(about = "Measures creo's charge path against an authenticated read in the same run")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's CREO_BILLING_WEBHOOK_SECRET, to top the accounts up.
    #[arg(long, env = "CREO_BILLING_WEBHOOK_SECRET")]
    webhook_secret: String,
    #[arg(long, default_value_t = 16)]
    accounts: usize,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// How long each phase runs.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
}

struct Phase {
    name: &'static str,
    done: u64,
    failed: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

impl Phase {
    fn per_second(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64()
    }
    fn ms(&self, q: f64) -> f64 {
        self.latency.value_at_quantile(q) as f64 / 1000.0
    }
}

struct Account {
    id: String,
    token: String,
}

async fn request(
    client: &reqwest::Client,
    req: reqwest::RequestBuilder,
) -> anyhow::Result<(u16, Value)> {
    let resp = client.execute(req.build()?).await?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

fn json_body(req: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
    req.header("Content-Type", "application/json")
        .body(serde_json::to_vec(body).expect("json"))
}

async fn setup(client: &reqwest::Client, args: &Args) -> anyhow::Result<Vec<Account>> {
    let run = std::process::id();
    let mut accounts = Vec::new();
    for i in 0..args.accounts {
        let email = format!("bench-{run}-{i}@example.com");
        let req = json_body(
            client.post(format!("{}/api/v1/auth/register", args.url)),
            &json!({ "email": email, "password": "benchmark password" }),
        );
        let (status, v) = request(client, req).await?;
        if status != 202 {
            bail!("register answered {status}: {v}");
        }
        let req = json_body(
            client.post(format!("{}/api/v1/auth/login", args.url)),
            &json!({ "email": email, "password": "benchmark password" }),
        );
        let (status, v) = request(client, req).await?;
        if status != 200 {
            bail!("login answered {status}: {v}");
        }
        let id = v["account_id"].as_str().context("account_id")?.to_string();
        let event = json!({ "id": format!("bench-{run}-{i}"), "type": "credits.purchased",
            "data": { "account_id": id, "credits_milli": 1_000_000_000_000i64 } });
        let body = serde_json::to_vec(&event)?;
        let t = creo::store::now_ms() / 1000;
        let req = client
            .post(format!("{}/api/v1/billing/webhook", args.url))
            .header(
                "Creo-Signature",
                creo::billing::webhook::sign(args.webhook_secret.as_bytes(), t, &body),
            )
            .header("Content-Type", "application/json")
            .body(body);
        let (status, v) = request(client, req).await?;
        if status != 200 {
            bail!("top-up answered {status}: {v}");
        }
        accounts.push(Account {
            id,
            token: login(client, args, &email).await?,
        });
    }
    Ok(accounts)
}

/// A fresh access token, taken after the setup so a slow setup cannot eat its lifetime.
async fn login(client: &reqwest::Client, args: &Args, email: &str) -> anyhow::Result<String> {
    let req = json_body(
        client.post(format!("{}/api/v1/auth/login", args.url)),
        &json!({ "email": email, "password": "benchmark password" }),
    );
    let (status, v) = request(client, req).await?;
    if status != 200 {
        bail!("login answered {status}: {v}");
    }
    Ok(v["access_token"]
        .as_str()
        .context("access_token")?
        .to_string())
}

async fn phase(
    name: &'static str,
    client: &reqwest::Client,
    args: &Args,
    accounts: &Arc<Vec<Account>>,
    charge: bool,
) -> Phase {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let latency = Arc::new(Mutex::new(Histogram::<u64>::new(3).expect("histogram")));
    let started = Instant::now();
    let deadline = started + args.duration;
    let workers = (0..args.concurrency).map(|_| {
        let (client, accounts, next, failed, latency) = (
            client.clone(),
            accounts.clone(),
            next.clone(),
            failed.clone(),
            latency.clone(),
        );
        let url = args.url.clone();
        tokio::spawn(async move {
            let mut local = Histogram::<u64>::new(3).expect("histogram");
            while Instant::now() < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let account = &accounts[n as usize % accounts.len()];
                let base = format!("{url}/api/v1/accounts/{}", account.id);
                let req = if charge {
                    json_body(
                        client.post(format!("{base}/charges")),
                        &json!({ "action": "sample_generation" }),
                    )
                    .header("Idempotency-Key", format!("bench-{n}"))
                } else {
                    client.get(base)
                }
                .bearer_auth(&account.token);
                let sent = Instant::now();
                let ok = matches!(request(&client, req).await, Ok((200 | 201, _)));
                if ok {
                    let _ = local.record(sent.elapsed().as_micros() as u64);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            latency
                .lock()
                .expect("histogram lock")
                .add(&local)
                .expect("same bounds");
        })
    });
    for w in workers.collect::<Vec<_>>() {
        let _ = w.await;
    }
    let elapsed = started.elapsed();
    let latency = Arc::try_unwrap(latency)
        .map(|m| m.into_inner().expect("histogram lock"))
        .unwrap_or_else(|l| l.lock().expect("histogram lock").clone());
    Phase {
        name,
        done: latency.len(),
        failed: failed.load(Ordering::Relaxed),
        elapsed,
        latency,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency)
        .tcp_nodelay(true)
        .build()?;
    let accounts = Arc::new(setup(&client, &args).await?);
    // Warm up connections and account actors, then measure the baseline and the charges.
    let warm = Args {
        duration: Duration::from_secs(1),
        ..Args::parse()
    };
    phase("warm-up", &client, &warm, &accounts, false).await;
    let read = phase("account read (baseline)", &client, &args, &accounts, false).await;
    let charges = phase("charge", &client, &args, &accounts, true).await;
    println!(
        "{:<26} {:>10} {:>8} {:>9} {:>9} {:>9} {:>9}",
        "phase", "per second", "failed", "p50 ms", "p99 ms", "p99.9 ms", "max ms"
    );
    for p in [&read, &charges] {
        println!(
            "{:<26} {:>10.0} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            p.name,
            p.per_second(),
            p.failed,
            p.ms(0.5),
            p.ms(0.99),
            p.ms(0.999),
            p.latency.max() as f64 / 1000.0
        );
    }
    println!(
        "charges/s vs reads/s: {:.2}; charge p99 / read p99: {:.2} ({} accounts, {} in flight)",
        charges.per_second() / read.per_second(),
        charges.ms(0.99) / read.ms(0.99),
        args.accounts,
        args.concurrency
    );
    Ok(())
}
