//! `creo-infer-bench`: the inference pool against raw ONNX Runtime, in one process and one run.
//!
//! 1. Raw: one `ort` session of the embedding model (the pool's own engine, no queue, no
//!    threads), run on batches of 1, 8, 16, 32 and 64 sentences; its best sentences/s is the
//!    baseline.
//! 2. Pool: 64 concurrent callers each sending one sentence at a time through `Pool::infer`
//!    (queue, dynamic batching, worker thread, reply): sentences/s, as a ratio to the baseline.
//! 3. Low load: one caller, one sentence at a time, through the pool and raw at batch 1: the
//!    difference of the medians is what the pool adds.
//! 4. Search: exact top-10 over 10,000 and 100,000 random 384-dimensional unit vectors.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::Actor;
use clap::Parser;
use creo::ai::index::AccountIndex;
use creo::gpu::engine::{runtime, Batch, Engine};
use creo::gpu::manifest::scan;
use creo::gpu::supervisor::InferenceSupervisor;
use creo::gpu::{Health, Input, Pool};
use hdrhistogram::Histogram;

#[derive(Parser, Debug)]
struct Args {
    /// The models folder (with all-minilm-l6-v2/1 from scripts/install-models.sh).
    #[arg(long, default_value = "models")]
    models: PathBuf,
    #[arg(long, default_value = "all-minilm-l6-v2")]
    model: String,
    /// ONNX Runtime threads per session (both sides use the same).
    #[arg(long, default_value_t = 2)]
    threads: usize,
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    duration: Duration,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
}

fn sentences() -> Vec<String> {
    let subjects = [
        "Our new app",
        "The summer sale",
        "This recipe",
        "The team",
        "Your feedback",
        "The launch event",
        "A quick tip",
        "The webinar",
    ];
    let verbs = [
        "helps you",
        "is about to",
        "makes it easy to",
        "shows how to",
        "will help you",
    ];
    let objects = [
        "plan your week",
        "cook fresh pasta",
        "grow your audience",
        "save on shipping",
        "write better captions",
        "find new customers",
    ];
    let mut out = Vec::new();
    for s in subjects {
        for v in verbs {
            for o in objects {
                out.push(format!("{s} {v} {o} this month."));
            }
        }
    }
    out
}

fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let library = args
        .models
        .join(".vendor/onnxruntime/capi/libonnxruntime.so.1.31.1");
    let env = runtime(&library).map_err(anyhow::Error::msg)?;
    let (specs, _) = scan(&args.models);
    let spec = specs
        .into_iter()
        .find(|s| s.name == args.model)
        .ok_or_else(|| anyhow::anyhow!("{} is not in {}", args.model, args.models.display()))?;
    let texts = sentences();

    // 1. Raw ORT at several batch sizes.
    let mut engine = Engine::load(&spec, &env, "cpu", args.threads).map_err(anyhow::Error::msg)?;
    let mut best = (0usize, 0f64);
    println!("raw onnxruntime ({} threads):", args.threads);
    for batch in [1usize, 8, 16, 32, 64] {
        let (started, mut done, mut i) = (Instant::now(), 0usize, 0usize);
        while started.elapsed() < args.duration {
            let chunk: Vec<&str> = (0..batch)
                .map(|k| texts[(i + k) % texts.len()].as_str())
                .collect();
            i += batch;
            engine
                .run(Batch::Texts(chunk))
                .map_err(anyhow::Error::msg)?;
            done += batch;
        }
        let rate = done as f64 / started.elapsed().as_secs_f64();
        println!("  batch {batch:>2}: {rate:>7.1} sentences/s");
        if rate > best.1 {
            best = (batch, rate);
        }
    }

    // 2 and 3. The pool, in an actix system like the server's.
    let (pool_rate, pool_single, raw_single) = actix_rt::System::new().block_on(async {
        let pool = Pool::default();
        InferenceSupervisor::new(
            pool.clone(),
            args.models.clone(),
            library.clone(),
            args.threads,
            Duration::from_secs(60),
        )
        .start();
        while !pool
            .status()
            .iter()
            .any(|m| m.model == args.model && m.health == Health::Ready)
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let done = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + args.duration;
        let warm = pool
            .infer(
                &args.model,
                vec![Input::Text("warm up".into())],
                Duration::from_secs(30),
            )
            .await;
        assert!(warm.is_ok());
        let started = Instant::now();
        let callers: Vec<_> = (0..args.concurrency)
            .map(|c| {
                let (pool, done, model, texts) = (
                    pool.clone(),
                    done.clone(),
                    args.model.clone(),
                    texts.clone(),
                );
                actix_rt::spawn(async move {
                    let mut i = c;
                    while Instant::now() < deadline {
                        let text = texts[i % texts.len()].clone();
                        i += args.concurrency;
                        if pool
                            .infer(&model, vec![Input::Text(text)], Duration::from_secs(30))
                            .await
                            .is_ok()
                        {
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                })
            })
            .collect();
        for c in callers {
            let _ = c.await;
        }
        let rate = done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
        // Low load: the pool and raw batch-1 runs alternate, so both see the same machine.
        let mut single = Histogram::<u64>::new(3).expect("histogram");
        let mut raw = Histogram::<u64>::new(3).expect("histogram");
        for i in 0..400 {
            let text = texts[i % texts.len()].clone();
            let t = Instant::now();
            engine
                .run(Batch::Texts(vec![text.as_str()]))
                .expect("raw inference");
            raw.record(t.elapsed().as_micros() as u64).expect("record");
            let t = Instant::now();
            pool.infer(
                &args.model,
                vec![Input::Text(text)],
                Duration::from_secs(30),
            )
            .await
            .expect("inference");
            single
                .record(t.elapsed().as_micros() as u64)
                .expect("record");
        }
        (rate, single, raw)
    });
    println!(
        "pool, {} concurrent single-sentence callers: {:.1} sentences/s = {:.2}x raw at its best batch ({}: {:.1}/s)",
        args.concurrency, pool_rate, pool_rate / best.1, best.0, best.1
    );
    println!(
        "low load, one sentence at a time: pool p50 {:.2} ms, raw p50 {:.2} ms: the pool adds {:.2} ms (p99 {:.2} vs {:.2} ms)",
        ms(&pool_single, 0.5),
        ms(&raw_single, 0.5),
        ms(&pool_single, 0.5) - ms(&raw_single, 0.5),
        ms(&pool_single, 0.99),
        ms(&raw_single, 0.99)
    );

    // 4. Exact search.
    for n in [10_000usize, 100_000] {
        let mut index = AccountIndex::default();
        let mut seed = 0x9E3779B97F4A7C15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f32 / (1u64 << 53) as f32 - 0.5
        };
        let unit = |v: Vec<f32>| {
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            v.into_iter().map(|x| x / norm).collect::<Vec<f32>>()
        };
        for d in 0..n {
            let v = unit((0..384).map(|_| next()).collect());
            index.upsert(&format!("doc-{d}"), &v, "");
        }
        let mut h = Histogram::<u64>::new(3)?;
        for _ in 0..200 {
            let q = unit((0..384).map(|_| next()).collect());
            let t = Instant::now();
            let hits = index.search(&q, 10, None);
            h.record(t.elapsed().as_micros() as u64)?;
            assert_eq!(hits.len(), 10);
        }
        println!(
            "search, top 10 of {n} documents: p50 {:.2} ms, p99 {:.2} ms",
            ms(&h, 0.5),
            ms(&h, 0.99)
        );
    }
    Ok(())
}
