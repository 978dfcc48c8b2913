//! Readings of a process (the server's, or the load tool's own) from /proc, and of the server's
//! Prometheus counters.

use std::collections::BTreeMap;

/// CPU seconds and resident memory of a process at one moment.
#[derive(Clone, Copy, Debug)]
pub struct ProcReading {
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Reads `/proc/{pid}` (`self` for this process). Linux reports CPU time in clock ticks, which
/// are 100 per second on every Linux architecture creo runs on (USER_HZ).
pub fn read_proc(pid: &str) -> Option<ProcReading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(ProcReading {
        cpu_seconds: ticks as f64 / 100.0,
        rss_bytes: rss_kib * 1024,
    })
}

/// Every sample of a Prometheus text exposition, keyed by name and labels.
pub async fn scrape(url: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    let body = reqwest::get(url).await?.error_for_status()?.text().await?;
    Ok(parse_metrics(&body))
}

fn parse_metrics(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            Some((series.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Histograms whose buckets are kept in the report, so a percentile over the measured window can
/// be read from them: the store's group commit, fsync included (creo's durable write).
const WINDOW_HISTOGRAMS: [&str; 1] = ["creo_store_commit_seconds"];

/// How each counter (`*_total`, and the buckets of `WINDOW_HISTOGRAMS`) moved between two
/// scrapes, leaving out those that did not.
pub fn counter_deltas(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    let kept = |name: &str| {
        name.ends_with("_total")
            || WINDOW_HISTOGRAMS.iter().any(|h| {
                name.strip_prefix(h)
                    .is_some_and(|s| s == "_bucket" || s == "_count")
            })
    };
    after
        .iter()
        .filter(|(k, _)| k.split('{').next().is_some_and(kept))
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d != 0.0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_move_and_gauges_are_left_out() {
        let before = parse_metrics(
            "# TYPE creo_updates_total counter\ncreo_updates_total{source=\"ws\"} 10\ncreo_sessions 3\n",
        );
        let after = parse_metrics(
            "creo_updates_total{source=\"ws\"} 25\ncreo_sessions 9\ncreo_refused_total 2\ncreo_idle_total 4\n",
        );
        let d = counter_deltas(&before, &after);
        assert_eq!(d.get("creo_updates_total{source=\"ws\"}"), Some(&15.0));
        assert_eq!(d.get("creo_refused_total"), Some(&2.0));
        assert!(!d.contains_key("creo_sessions"));
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn reads_its_own_process() {
        let r = read_proc("self").expect("/proc/self is readable");
        assert!(r.rss_bytes > 0);
    }
}
