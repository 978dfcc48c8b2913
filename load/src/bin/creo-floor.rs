//! `creo-floor`: what this machine charges a server for the two things no server that delivers
//! edits durably can skip, measured with nothing else around them:
//!
//! - one small write to a loopback TCP socket whose reader is another process (a delivery to an
//!   editor of the load tool), as the CPU the writing process spends per write. On loopback the
//!   kernel runs the receiver's side of TCP in the sender's system call, so this is the whole
//!   cost a server pays per delivered frame;
//! - one 4 KiB overwrite of a file followed by `fdatasync` (a group commit's WAL write), as CPU
//!   per commit and its latency.
//!
//! BENCHMARKS.md compares these to the CPU per delivery the servers spend: a server whose target
//! is below the floor of one write per delivery can reach it only by writing less than once per
//! delivery, which means holding updates back.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;

#[derive(Parser, Debug)]
#[command(about = "Measures the CPU floor of one loopback delivery and of one fdatasync")]
struct Args {
    /// Receiving sockets, each written once per round (a broadcast to this many editors).
    #[arg(long, default_value_t = 49, value_parser = clap::value_parser!(u32).range(1..))]
    sockets: u32,
    /// Broadcast rounds per second (S1: 100 edits a second on one document).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Bytes per write (a typed character's update frame is about 40).
    #[arg(long, default_value_t = 40)]
    bytes: usize,
    /// How long each measurement runs.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Where the fdatasync file goes (the disk the server's data is on).
    #[arg(long, default_value = ".")]
    dir: std::path::PathBuf,
    /// fdatasyncs per second (S1's group commits: about 100).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    syncs: u32,
    /// Write the figures as JSON here.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Internal: run as the reading side, connecting to this port.
    #[arg(long, hide = true)]
    reader_of: Option<u16>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(port) = args.reader_of {
        return read_everything(port, args.sockets);
    }
    anyhow::ensure!(
        args.duration >= Duration::from_millis(100),
        "--duration must be at least 100ms to measure anything"
    );
    let write_us = loopback_write(&args)?;
    println!(
        "loopback write: {write_us:.2} µs CPU per {}-byte write to another process ({} sockets, {} rounds/s)",
        args.bytes, args.sockets, args.rounds
    );
    let (sync_us, p50, p99) = fdatasync(&args)?;
    println!(
        "fdatasync: {sync_us:.1} µs CPU per 4 KiB write + fdatasync; latency p50 {p50:.3} ms, p99 {p99:.3} ms ({} /s in {})",
        args.syncs,
        args.dir.display()
    );
    if let Some(path) = &args.json {
        let report = serde_json::json!({
            "loopback_write_cpu_us": write_us,
            "fdatasync_cpu_us": sync_us,
            "fdatasync_ms": { "p50": p50, "p99": p99 },
            "sockets": args.sockets,
            "rounds_per_second": args.rounds,
            "bytes": args.bytes,
        });
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)?;
    }
    Ok(())
}

fn cpu_seconds() -> f64 {
    // utime + stime of this process, in USER_HZ ticks: 100 a second whatever the kernel's own
    // HZ (the /proc ABI fixes it on x86 and arm64).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (tick(11) + tick(12)) as f64 / 100.0
}

/// The receiving process: one thread per socket, reading until the writer goes away.
fn read_everything(port: u16, sockets: u32) -> anyhow::Result<()> {
    let mut readers = Vec::new();
    for _ in 0..sockets {
        let mut s = TcpStream::connect(("127.0.0.1", port))?;
        s.set_nodelay(true)?;
        readers.push(std::thread::spawn(move || {
            let mut buf = [0u8; 64 * 1024];
            while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
        }));
    }
    for r in readers {
        let _ = r.join();
    }
    Ok(())
}

fn loopback_write(args: &Args) -> anyhow::Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .args([
            "--reader-of",
            &port.to_string(),
            "--sockets",
            &args.sockets.to_string(),
        ])
        .spawn()
        .context("starting the reading process")?;
    let mut sockets = Vec::with_capacity(args.sockets as usize);
    for _ in 0..args.sockets {
        let (s, _) = listener.accept()?;
        s.set_nodelay(true)?;
        sockets.push(s);
    }
    let frame = vec![b'x'; args.bytes];
    std::thread::sleep(Duration::from_millis(200));
    let period = Duration::from_secs_f64(1.0 / args.rounds as f64);
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let mut next = t0;
    let mut writes = 0u64;
    while t0.elapsed() < args.duration {
        for s in &mut sockets {
            s.write_all(&frame)?;
            writes += 1;
        }
        next += period;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let cpu = cpu_seconds() - cpu0;
    drop(sockets);
    let _ = child.wait();
    anyhow::ensure!(writes > 0, "no write went out in --duration");
    Ok(cpu / writes as f64 * 1e6)
}

fn fdatasync(args: &Args) -> anyhow::Result<(f64, f64, f64)> {
    const PAGE: usize = 4096;
    const PAGES: u64 = 256;
    let path = args
        .dir
        .join(format!("creo-floor-{}.dat", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(&path)?;
    // Preallocated, as a WAL that has been through one checkpoint is: overwrites, no growth.
    let page = [b'y'; PAGE];
    for _ in 0..PAGES {
        file.write_all(&page)?;
    }
    file.sync_all()?;
    let period = Duration::from_secs_f64(1.0 / args.syncs as f64);
    let mut latencies = Vec::new();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let mut next = t0;
    let mut i = 0u64;
    while t0.elapsed() < args.duration {
        use std::os::unix::fs::FileExt;
        file.write_all_at(&page, (i % PAGES) * PAGE as u64)?;
        let started = Instant::now();
        file.sync_data()?;
        latencies.push(started.elapsed().as_secs_f64() * 1e3);
        i += 1;
        next += period;
        if let Some(wait) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
    }
    let cpu = cpu_seconds() - cpu0;
    let _ = std::fs::remove_file(&path);
    anyhow::ensure!(!latencies.is_empty(), "no fdatasync finished in --duration");
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    Ok((cpu / i as f64 * 1e6, at(0.5), at(0.99)))
}
