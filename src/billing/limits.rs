//! Per-account REST rate limits by tier: a token bucket per second and a cap per hour. With
//! Redis both are counted cluster-wide (the GCRA script of `bus::limits`); on a single node, or
//! while Redis does not answer, on this node with `governor`.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::TierLimits;
use crate::bus::limits::SharedLimits;

type Local = Arc<DefaultKeyedRateLimiter<Arc<str>>>;

pub struct RequestLimiter {
    shared: Arc<SharedLimits>,
    /// One keyed limiter per distinct (window, allowance): tiers share them, enterprise accounts
    /// with their own limits get their own.
    local: Mutex<HashMap<(u64, u32), Local>>,
}

/// A request refused: retry after this long.
#[derive(Debug, Clone, Copy)]
pub struct Limited {
    pub retry_after: Duration,
    pub window: &'static str,
}

impl RequestLimiter {
    pub fn new(shared: Arc<SharedLimits>) -> RequestLimiter {
        RequestLimiter {
            shared,
            local: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `account`; refuses it when either window is exhausted.
    pub async fn check(&self, account: &Arc<str>, limits: &TierLimits) -> Result<(), Limited> {
        let windows = [
            (1u64, limits.requests_per_second, "second"),
            (3_600, limits.requests_per_hour, "hour"),
        ];
        for (window_secs, allowance, window) in windows {
            // 0 means no limit for that window.
            if allowance > 0 {
                let key = format!("account:{window}:{account}");
                self.check_window(&key, allowance, window_secs, window)
                    .await?;
            }
        }
        Ok(())
    }

    /// Counts one event on `key` against `allowance` per `window_secs` (all of which may come
    /// at once), cluster-wide with Redis.
    pub async fn check_window(
        &self,
        key: &str,
        allowance: u32,
        window_secs: u64,
        window: &'static str,
    ) -> Result<(), Limited> {
        let Some(allowance) = NonZeroU32::new(allowance) else {
            return Ok(());
        };
        let window_us = window_secs * 1_000_000;
        let interval_us = (window_us / u64::from(allowance.get())).max(1);
        let wait = match self
            .shared
            .shared_rate(&format!("rate:{key}"), interval_us, window_us)
            .await
        {
            Some(wait) => wait,
            None => self.local_wait(&Arc::from(key), window_secs, allowance),
        };
        if wait.is_zero() {
            return Ok(());
        }
        metrics::counter!("creo_rate_limited_total", "window" => window).increment(1);
        Err(Limited {
            retry_after: wait,
            window,
        })
    }

    fn local_wait(&self, key: &Arc<str>, window_secs: u64, allowance: NonZeroU32) -> Duration {
        let limiter = {
            let mut local = self.local.lock().expect("rate limiter lock");
            local
                .entry((window_secs, allowance.get()))
                .or_insert_with(|| {
                    let period = Duration::from_secs(window_secs) / allowance.get();
                    let quota = Quota::with_period(period)
                        .expect("nonzero period")
                        .allow_burst(allowance);
                    Arc::new(RateLimiter::keyed(quota))
                })
                .clone()
        };
        match limiter.check_key(key) {
            Ok(()) => Duration::ZERO,
            Err(not_until) => not_until
                .wait_time_from(DefaultClock::default().now())
                .max(Duration::from_millis(1)),
        }
    }

    /// Forgets idle accounts' local buckets (called now and then).
    pub fn forget_idle(&self) {
        for limiter in self.local.lock().expect("rate limiter lock").values() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
