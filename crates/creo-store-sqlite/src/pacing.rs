//! How often the writer may commit. Each commit costs an fsync, and on a virtual disk an fsync
//! costs the process far more CPU than the inserts it makes durable. Under light load every
//! request commits at once, as before; under heavy load (more requests a second than the rate)
//! the writer waits for its next slot and the requests that arrive meanwhile share the commit.
//! A token bucket: `rate` slots a second, up to `burst` saved while idle, so an occasional
//! flurry never waits and a sustained one waits at most one slot (1 / `rate`).

use std::time::{Duration, Instant};

pub(crate) struct CommitPacer {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl CommitPacer {
    /// `None` when commits are not paced (`per_second` 0).
    pub fn new(per_second: u32, now: Instant) -> Option<CommitPacer> {
        (per_second > 0).then(|| {
            let burst = (per_second as f64 / 25.0).max(1.0);
            CommitPacer {
                rate: per_second as f64,
                burst,
                tokens: burst,
                last: now,
            }
        })
    }

    /// Takes the next slot: how long to wait before committing (zero when one is free now).
    pub fn next_slot(&mut self, now: Instant) -> Duration {
        if now > self.last {
            let earned = now.duration_since(self.last).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + earned).min(self.burst);
            self.last = now;
        }
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Duration::ZERO;
        }
        let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.rate);
        // The slot at `now + wait` is this commit's.
        self.tokens = 0.0;
        self.last = now + wait;
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unpaced_when_zero() {
        assert!(CommitPacer::new(0, Instant::now()).is_none());
    }

    #[test]
    fn light_load_never_waits() {
        let t = Instant::now();
        let mut p = CommitPacer::new(250, t).unwrap();
        // 100 commits a second, well under 250: none waits.
        for i in 0..1000 {
            assert_eq!(
                p.next_slot(t + Duration::from_millis(10 * i)),
                Duration::ZERO
            );
        }
    }

    #[test]
    fn a_flurry_uses_the_burst_then_waits_one_slot_each() {
        let t = Instant::now();
        let mut p = CommitPacer::new(250, t).unwrap();
        // 10 slots saved (250 / 25): taken at once.
        for _ in 0..10 {
            assert_eq!(p.next_slot(t), Duration::ZERO);
        }
        // Then one slot (4 ms) each, counted from the last one taken.
        let first = p.next_slot(t);
        assert!((first.as_secs_f64() - 0.004).abs() < 1e-9, "{first:?}");
        let second = p.next_slot(t + first);
        assert!((second.as_secs_f64() - 0.004).abs() < 1e-9, "{second:?}");
    }

    #[test]
    fn sustained_load_commits_at_the_rate() {
        let t = Instant::now();
        let mut p = CommitPacer::new(200, t).unwrap();
        // A writer that commits whenever it may, for ten seconds.
        let mut now = t;
        let mut commits = 0;
        while now < t + Duration::from_secs(10) {
            now += p.next_slot(now);
            commits += 1;
        }
        assert!((2000..=2010).contains(&commits), "{commits}");
    }
}
