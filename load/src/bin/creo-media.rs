//! `creo-media`: measures the media library against a running server.
//!
//! 1. Upload throughput: a `--upload-mb` MP4 (a real two-second clip made with Debian's ffmpeg,
//!    followed by padding, so the whole file streams through the upload path and ffprobe and
//!    ffmpeg still read it) uploaded once, in MB/s, against a plain copy of the same file on the
//!    same disk in the same run (`std::fs::copy`, the baseline). While it uploads, the server's
//!    resident memory (`VmRSS` of `--pid`) is sampled every 50 ms: before, the most seen, after.
//!    Then the same file as a resumable upload (tus) in `--chunk-mb` requests, measured the
//!    same way: what going on from a cut costs when nothing is cut.
//! 2. Renditions: `--images` distinct 2,000 x 1,500 PNGs uploaded, then the time until every
//!    one lists its renditions (thumb, large, and the export of a free workspace): renditions
//!    jobs per second.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser, Debug)]
#[command(about = "Measures media uploads (MB/s, server RSS) and renditions jobs/s")]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's process id, to sample its memory.
    #[arg(long)]
    pid: u32,
    #[arg(long, default_value_t = 500)]
    upload_mb: u64,
    #[arg(long, default_value_t = 40)]
    images: usize,
    /// The size of each request of the resumable upload (the editor sends 2 MB).
    #[arg(long, default_value_t = 2)]
    chunk_mb: u64,
    /// Where the test files are written (the same disk as the server's data, for the baseline).
    #[arg(long, default_value = "target/bench")]
    scratch: String,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// A real clip, then zeros up to `mb` MB.
fn padded_clip(dir: &Path, mb: u64) -> anyhow::Result<std::path::PathBuf> {
    let clip = dir.join("bench-clip.mp4");
    let made = std::process::Command::new("ffmpeg")
        .args([
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=640x360:rate=25",
        ])
        .args(["-t", "2", "-c:v", "mpeg4"])
        .arg(&clip)
        .status()
        .context("ffmpeg (Debian's) makes the clip")?;
    if !made.success() {
        bail!("ffmpeg failed");
    }
    let mut file = std::fs::OpenOptions::new().append(true).open(&clip)?;
    let target = mb * 1_000_000;
    let zeros = vec![0u8; 1 << 20];
    while file.metadata()?.len() < target {
        let left = (target - file.metadata()?.len()).min(zeros.len() as u64) as usize;
        file.write_all(&zeros[..left])?;
    }
    file.sync_all()?;
    Ok(clip)
}

/// A distinct PNG (noise seeded by `n`): about 9 MB, so each is real decoding work.
fn image(n: usize) -> Vec<u8> {
    let mut seed = n as u64 * 0x9E37_79B9_7F4A_7C15 + 1;
    let img = image::RgbImage::from_fn(2_000, 1_500, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        image::Rgb([(x / 8) as u8, (y / 6) as u8, (seed >> 56) as u8])
    });
    let mut out = Vec::new();
    image::DynamicImage::ImageRgb8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("a PNG encodes");
    out
}

struct Api {
    client: reqwest::Client,
    url: String,
    token: String,
    account: String,
}

impl Api {
    async fn signed_in(url: &str) -> anyhow::Result<Api> {
        let client = reqwest::Client::new();
        let email = format!("media-{}@example.com", std::process::id());
        let credentials = json!({ "email": email, "password": "benchmark password" });
        let r = client
            .post(format!("{url}/api/v1/auth/register"))
            .json(&credentials)
            .send()
            .await?;
        if r.status() != 202 {
            bail!("register answered {}", r.status());
        }
        let v: Value = client
            .post(format!("{url}/api/v1/auth/login"))
            .json(&credentials)
            .send()
            .await?
            .json()
            .await?;
        Ok(Api {
            client,
            url: url.to_string(),
            token: v["access_token"]
                .as_str()
                .context("access_token")?
                .to_string(),
            account: v["account_id"].as_str().context("account_id")?.to_string(),
        })
    }

    async fn upload(&self, name: &str, body: reqwest::Body) -> anyhow::Result<Value> {
        let r = self
            .client
            .post(format!(
                "{}/api/v1/accounts/{}/media?name={name}",
                self.url, self.account
            ))
            .bearer_auth(&self.token)
            .body(body)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if status != 201 {
            bail!("upload answered {status}: {v}");
        }
        Ok(v)
    }
}

impl Api {
    /// Uploads `path` (`size` bytes) resumably, `chunk` bytes a request: the medium's id.
    async fn resumable(&self, path: &Path, size: u64, chunk: usize) -> anyhow::Result<String> {
        use tokio::io::AsyncReadExt;
        let r = self
            .client
            .post(format!(
                "{}/api/v1/accounts/{}/uploads",
                self.url, self.account
            ))
            .bearer_auth(&self.token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", size.to_string())
            .send()
            .await?;
        if r.status() != 201 {
            bail!("creating the upload answered {}", r.status());
        }
        let location = format!("{}{}", self.url, r.headers()["location"].to_str()?);
        let mut file = tokio::fs::File::open(path).await?;
        let mut offset = 0u64;
        let mut buffer = vec![0u8; chunk];
        loop {
            let mut filled = 0;
            while filled < chunk {
                let n = file.read(&mut buffer[filled..]).await?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            let r = self
                .client
                .patch(&location)
                .bearer_auth(&self.token)
                .header("Tus-Resumable", "1.0.0")
                .header("Content-Type", "application/offset+octet-stream")
                .header("Upload-Offset", offset.to_string())
                .body(buffer[..filled].to_vec())
                .send()
                .await?;
            if r.status() != 204 {
                bail!("a PATCH at {offset} answered {}", r.status());
            }
            offset += filled as u64;
            if offset == size {
                return Ok(r.headers()["creo-media-id"].to_str()?.to_string());
            }
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scratch = Path::new(&args.scratch);
    std::fs::create_dir_all(scratch)?;
    let api = Api::signed_in(&args.url).await?;

    // 1. Upload throughput and memory.
    let clip = padded_clip(scratch, args.upload_mb)?;
    let size = std::fs::metadata(&clip)?.len();
    let copy = scratch.join("bench-clip-copy.mp4");
    let started = Instant::now();
    std::fs::copy(&clip, &copy)?;
    std::fs::File::open(&copy)?.sync_all()?;
    let copy_s = started.elapsed().as_secs_f64();
    std::fs::remove_file(&copy)?;

    let file = tokio::fs::File::open(&clip).await?;
    let body = reqwest::Body::wrap_stream(tokio_util_stream(file));
    let (medium, upload_s, rss) = sampled(args.pid, api.upload("bench-clip.mp4", body)).await?;
    let mb = size as f64 / 1e6;
    println!(
        "upload of {mb:.0} MB ({}, {} x {}, {} ms):",
        medium["content_type"], medium["width"], medium["height"], medium["duration_ms"]
    );
    println!("  creo upload      {:>8.1} MB/s  ({upload_s:.2} s, detection, ffprobe, ffmpeg remux and storing included)", mb / upload_s);
    println!(
        "  plain file copy  {:>8.1} MB/s  ({copy_s:.2} s)  baseline",
        mb / copy_s
    );
    println!(
        "  ratio            {:>8.2}",
        (mb / upload_s) / (mb / copy_s)
    );
    println!("  server RSS       {rss}");
    let chunk = (args.chunk_mb.max(1) << 20) as usize;
    let (_, resumable_s, rss) = sampled(args.pid, api.resumable(&clip, size, chunk)).await?;
    println!(
        "  resumable (tus)  {:>8.1} MB/s  ({resumable_s:.2} s in {} requests of {} MiB)  ratio to one request {:.2}",
        mb / resumable_s,
        size.div_ceil(chunk as u64),
        args.chunk_mb.max(1),
        upload_s / resumable_s
    );
    println!("  server RSS       {rss}");
    std::fs::remove_file(&clip)?;

    // 2. Renditions jobs per second.
    let images: Vec<Vec<u8>> = (0..args.images).map(image).collect();
    let started = Instant::now();
    let mut ids = Vec::new();
    for (n, bytes) in images.into_iter().enumerate() {
        let m = api.upload(&format!("bench-{n}.png"), bytes.into()).await?;
        ids.push(m["media_id"].as_str().context("media_id")?.to_string());
    }
    let uploaded_s = started.elapsed().as_secs_f64();
    let mut waiting = ids.clone();
    while !waiting.is_empty() {
        let mut still = Vec::new();
        for id in waiting {
            let v: Value = api
                .client
                .get(format!(
                    "{}/api/v1/accounts/{}/media/{id}",
                    api.url, api.account
                ))
                .bearer_auth(&api.token)
                .send()
                .await?
                .json()
                .await?;
            if v["renditions"].as_array().is_none_or(|r| r.is_empty()) {
                still.push(id);
            }
        }
        waiting = still;
        if started.elapsed() > Duration::from_secs(600) {
            bail!("renditions not done after 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let all_s = started.elapsed().as_secs_f64();
    println!(
        "renditions of {} distinct 2000 x 1500 PNGs (thumb, large, watermarked export):",
        ids.len()
    );
    println!(
        "  uploaded in {uploaded_s:.2} s; every rendition done {all_s:.2} s after the first upload"
    );
    println!("  renditions jobs  {:>8.2} /s", ids.len() as f64 / all_s);
    Ok(())
}

/// Runs `work` while sampling the server's memory every 50 ms: its result, its seconds, and the
/// memory before, at most and after, in words.
async fn sampled<T>(
    pid: u32,
    work: impl std::future::Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<(T, f64, String)> {
    let before = rss_kib(pid);
    let (peak, done) = (
        Arc::new(AtomicU64::new(before)),
        Arc::new(AtomicBool::new(false)),
    );
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(rss_kib(pid), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let started = Instant::now();
    let out = work.await?;
    let secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    sampler.await?;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let rss = format!(
        "before {:.1} MB, most {:.1} MB during, after {:.1} MB",
        mib(before),
        mib(peak.load(Ordering::Relaxed)),
        mib(rss_kib(pid))
    );
    Ok((out, secs, rss))
}

/// A file as a stream of 1 MiB chunks.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> {
    futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut chunk = vec![0u8; 1 << 20];
        match file.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok(chunk), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    })
}
