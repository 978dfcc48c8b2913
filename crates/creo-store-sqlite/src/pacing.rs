//! How often the writer may commit. Each commit costs an fsync, and on a virtual disk an fsync
//! costs the process far more CPU than the inserts it makes durable. Under light load every
//! request commits at once, as before; under heavy load (more requests a second than the rate)
//! the writer waits for its next slot and the requests that arrive meanwhile share the commit.
//! A token bucket: `rate` slots a second, up to `burst` saved while idle, so an occasional
//! flurry never waits and a sustained one waits at most one slot (1 / `rate`).
//!
//! Waiting pays only when others write at the same time. A client that writes one request after
//! another (an import script) has nothing more to send while it waits for its answer: after
//! `MISSES` waits in a row that gathered nothing but the request they held back, pacing is off for
//! `HOLD_OFF`, so such a client loses a few slots' waits a second, not one per request. (One
//! empty wait proves little under real concurrency: at 800 requests a second a 4 ms wait finds
//! nobody else one time in 25.)

use std::time::{Duration, Instant};

/// Waits in a row that gathered nothing before pacing turns off, and for how long.
const MISSES: u32 = 3;
const HOLD_OFF: Duration = Duration::from_secs(1);

pub(crate) struct CommitPacer {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
    /// No waiting before this (see `gathered`).
    off_until: Option<Instant>,
    misses: u32,
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
                off_until: None,
                misses: 0,
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
        if self.off_until.is_some_and(|until| now < until) {
            self.tokens = 0.0;
            return Duration::ZERO;
        }
        let wait = Duration::from_secs_f64((1.0 - self.tokens) / self.rate);
        // The slot at `now + wait` is this commit's.
        self.tokens = 0.0;
        self.last = now + wait;
        wait
    }

    /// After a wait: how many requests the commit carries. One (the request that waited) means
    /// nobody else wrote meanwhile; `MISSES` such waits in a row turn pacing off for `HOLD_OFF`.
    pub fn gathered(&mut self, requests: usize, now: Instant) {
        if requests > 1 {
            self.misses = 0;
            return;
        }
        self.misses += 1;
        if self.misses >= MISSES {
            self.misses = 0;
            self.off_until = Some(now + HOLD_OFF);
        }
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
    fn a_wait_that_gathers_nothing_turns_pacing_off_for_a_while() {
        let t = Instant::now();
        let mut p = CommitPacer::new(250, t).unwrap();
        for _ in 0..10 {
            p.next_slot(t);
        }
        // A lone writer: each wait gathers only its own request; the third in a row stops it.
        let mut now = t;
        for miss in 0..MISSES {
            let wait = p.next_slot(now);
            assert!(!wait.is_zero(), "miss {miss} still waits");
            now += wait;
            p.gathered(1, now);
        }
        let wait = now - t;
        for i in 0..500 {
            let at = t + wait + Duration::from_millis(i);
            assert_eq!(p.next_slot(at), Duration::ZERO, "{i} ms after");
        }
        // Past the hold-off (and a spent burst) it paces again, and keeps pacing while waits
        // gather company.
        let later = t + wait + HOLD_OFF + Duration::from_millis(1);
        for _ in 0..10 {
            p.next_slot(later);
        }
        let again = p.next_slot(later);
        assert!(!again.is_zero());
        p.gathered(3, later + again);
        assert!(!p.next_slot(later + again).is_zero());
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
