//! Limits that hold across nodes: connections per user and per document, and messages per
//! second per user. With Redis they are counted there, atomically in Lua scripts using Redis's
//! own clock (nodes' clocks may disagree); on a single node, or while Redis is unreachable, they
//! are counted on this node (failing open to the local count rather than refusing every editor).
//!
//! A connection holds a lease: a member of a sorted set per user and per document, scored by its
//! expiry. Leases are renewed while the connection lives and released when it ends; a crashed
//! node's leases expire after `connection_lease_ms`, so its editors can reconnect elsewhere.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ::redis::aio::ConnectionManager;
use ::redis::Script;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::mpsc;

use crate::config::Config;

/// Takes a lease on two sorted sets (user, document) if both have room.
/// KEYS: user set, document set. ARGV: lease ms, max per user, max per document, member.
/// Returns 0 when taken, 1 when the user is at its limit, 2 when the document is.
const ACQUIRE: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local lease = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 1 end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[3]) then return 2 end
redis.call('ZADD', KEYS[1], now + lease, ARGV[4])
redis.call('ZADD', KEYS[2], now + lease, ARGV[4])
redis.call('PEXPIRE', KEYS[1], lease * 2)
redis.call('PEXPIRE', KEYS[2], lease * 2)
return 0
";

/// Renews leases that still exist. KEYS: the sets; ARGV[1]: lease ms, then one member per key.
const RENEW: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, 'XX', now + lease, ARGV[i + 1])
  redis.call('PEXPIRE', key, lease * 2)
end
return 0
";

/// GCRA (the generic cell rate algorithm): one key per user holding its theoretical arrival
/// time in microseconds. ARGV: emission interval µs, burst tolerance µs, events (1 if absent).
/// Returns 0 when allowed, else the microseconds until the events would be.
const RATE: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local interval = tonumber(ARGV[1]) * tonumber(ARGV[3] or 1)
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local allow_at = tat + interval - tolerance
if allow_at > now then return allow_at - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
";

/// Failures with exponential backoff: one hash per key holding the failure count and the time
/// of the last one. KEYS: the key. ARGV: op, failures free of backoff, first backoff ms, longest
/// backoff ms, how long failures are remembered (ms). Ops: `attempt` returns the milliseconds
/// still to wait, or 0 having counted a failure in the same step, so parallel tries cannot all
/// pass one check; `refund` takes one back (the try succeeded); `clear` forgets them all.
const BACKOFF: &str = r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local op = ARGV[1]
if op == 'clear' then
  redis.call('DEL', KEYS[1])
  return 0
end
local v = redis.call('HMGET', KEYS[1], 'n', 'last')
local n = tonumber(v[1] or 0)
local last = tonumber(v[2] or 0)
if op == 'refund' then
  if n > 1 then redis.call('HSET', KEYS[1], 'n', n - 1) else redis.call('DEL', KEYS[1]) end
  return 0
end
local free = tonumber(ARGV[2])
if n > free then
  local backoff = math.min(tonumber(ARGV[3]) * 2 ^ (n - free - 1), tonumber(ARGV[4]))
  local wait = last + backoff - now
  if wait > 0 then return math.floor(wait) end
end
redis.call('HSET', KEYS[1], 'n', n + 1, 'last', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[5]))
return 0
";

/// How a series of failures (wrong passwords) slows the next try: free ones, then a backoff
/// doubling from `first` up to `longest`; forgotten `memory` after the last failure.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub free: u32,
    pub first: Duration,
    pub longest: Duration,
    pub memory: Duration,
}

impl Backoff {
    fn wait(&self, failures: u32, since_last: Duration) -> Duration {
        if failures <= self.free {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free - 1).min(30);
        let backoff = self.first.saturating_mul(1 << doublings).min(self.longest);
        backoff.saturating_sub(since_last)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    PerUser,
    PerDocument,
}

struct Shared {
    conn: ConnectionManager,
    prefix: String,
    acquire: Script,
    renew: Script,
    rate: Script,
    backoff: Script,
    /// Live leases of this node: member → (user set, document set).
    leases: Mutex<HashMap<String, (String, String)>>,
    released: mpsc::UnboundedSender<(String, String, String)>,
}

pub struct SharedLimits {
    shared: Option<Arc<Shared>>,
    /// This node's view, used without Redis and while it is unreachable.
    local_user_rate: Option<DefaultKeyedRateLimiter<Arc<str>>>,
    /// Failures per key (count, last) for `Backoff`, on this node.
    local_failures: Mutex<HashMap<String, (u32, std::time::Instant)>>,
    rate: Option<(u64, u64)>,
    /// Message tokens this node took from the shared rate ahead of use, per user (see
    /// `message_wait`).
    allowances: Mutex<HashMap<Arc<str>, Allowance>>,
    /// How many tokens one trip to Redis takes.
    allowance_tokens: u32,
    lease_ms: u64,
    next: AtomicU64,
    node: u64,
}

/// Tokens already counted in Redis and not yet spent by this node. Unspent ones lapse: the
/// shared count then holds more than was sent, never less, so the cluster-wide rate is never
/// exceeded.
struct Allowance {
    tokens: u32,
    until: std::time::Instant,
}

/// How long taken tokens may wait to be spent.
const ALLOWANCE_LIFETIME: Duration = Duration::from_secs(1);

/// A connection's place in the shared counts; released when dropped.
pub struct Lease {
    shared: Arc<Shared>,
    member: String,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some((user, doc)) = self
            .shared
            .leases
            .lock()
            .expect("leases lock")
            .remove(&self.member)
        {
            let _ = self
                .shared
                .released
                .send((user, doc, std::mem::take(&mut self.member)));
        }
    }
}

impl SharedLimits {
    /// Runs its renewal task on the current arbiter when Redis is configured.
    pub fn start(config: &Config, node: u64) -> anyhow::Result<Arc<SharedLimits>> {
        let rate = (config.user_messages_per_second > 0).then(|| {
            let interval = 1_000_000 / u64::from(config.user_messages_per_second);
            (
                interval,
                interval * u64::from(config.user_message_burst.max(1)),
            )
        });
        let local_user_rate = NonZeroU32::new(config.user_messages_per_second).map(|per_second| {
            let burst = NonZeroU32::new(config.user_message_burst.max(1)).expect("nonzero");
            RateLimiter::keyed(Quota::per_second(per_second).allow_burst(burst))
        });
        let shared = match &config.redis_url {
            None => None,
            Some(url) => {
                let conn = super::redis::commands_connection(
                    &::redis::Client::open(url.as_str())?,
                    Duration::from_millis(config.redis_timeout_ms),
                )?;
                let (released, released_rx) = mpsc::unbounded_channel();
                let shared = Arc::new(Shared {
                    conn,
                    prefix: config.bus_prefix.clone(),
                    acquire: Script::new(ACQUIRE),
                    renew: Script::new(RENEW),
                    rate: Script::new(RATE),
                    backoff: Script::new(BACKOFF),
                    leases: Mutex::new(HashMap::new()),
                    released,
                });
                let every = Duration::from_millis((config.connection_lease_ms / 3).max(10));
                actix_rt::spawn(maintain(
                    shared.clone(),
                    released_rx,
                    every,
                    config.connection_lease_ms,
                ));
                Some(shared)
            }
        };
        let limits = Arc::new(SharedLimits {
            shared,
            local_user_rate,
            local_failures: Mutex::default(),
            rate,
            allowances: Mutex::default(),
            // A small share of the burst, so one node cannot hold much of it idle.
            allowance_tokens: (config.user_message_burst / 8).clamp(1, 32),
            lease_ms: config.connection_lease_ms,
            next: AtomicU64::new(1),
            node,
        });
        // The local limiters keep a cell per user or key seen; forget the idle ones.
        let weak = Arc::downgrade(&limits);
        actix_rt::spawn(async move {
            let mut tick = actix_rt::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let Some(limits) = weak.upgrade() else { return };
                if let Some(l) = &limits.local_user_rate {
                    l.retain_recent();
                    l.shrink_to_fit();
                }
                limits
                    .local_failures
                    .lock()
                    .expect("failures lock")
                    .retain(|_, (_, last)| last.elapsed() < Duration::from_secs(24 * 3600));
                let now = std::time::Instant::now();
                limits
                    .allowances
                    .lock()
                    .expect("allowances lock")
                    .retain(|_, a| a.until > now);
            }
        });
        Ok(limits)
    }

    /// Counts a new connection against the cluster-wide limits. `Ok(None)` without Redis, or
    /// when Redis does not answer (the node's own limits still apply).
    pub async fn acquire(
        &self,
        user: &str,
        doc: &str,
        max_per_user: usize,
        max_per_document: usize,
    ) -> Result<Option<Lease>, Refused> {
        let Some(shared) = &self.shared else {
            return Ok(None);
        };
        let member = format!(
            "{:016x}:{}",
            self.node,
            self.next.fetch_add(1, Ordering::Relaxed)
        );
        let user_key = format!("{}:conns:user:{user}", shared.prefix);
        let doc_key = format!("{}:conns:doc:{doc}", shared.prefix);
        let mut conn = shared.conn.clone();
        let result: ::redis::RedisResult<i64> = shared
            .acquire
            .key(&user_key)
            .key(&doc_key)
            .arg(self.lease_ms)
            .arg(max_per_user)
            .arg(max_per_document)
            .arg(&member)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(0) => {
                shared
                    .leases
                    .lock()
                    .expect("leases lock")
                    .insert(member.clone(), (user_key, doc_key));
                Ok(Some(Lease {
                    shared: shared.clone(),
                    member,
                }))
            }
            Ok(1) => Err(Refused::PerUser),
            Ok(_) => Err(Refused::PerDocument),
            Err(e) => {
                metrics::counter!("creo_shared_limit_errors_total").increment(1);
                tracing::warn!(error = %e, "shared connection limit unavailable; counting on this node only");
                Ok(None)
            }
        }
    }

    /// How long `n` more messages from `user` (a `Principal::limit_key`) must wait, when that
    /// can be told without Redis: always on a single node or with no limit configured; `None`
    /// when Redis must be asked. Zero means they may go now, and they are counted.
    pub fn message_wait_locally(&self, user: &Arc<str>, n: u32) -> Option<Duration> {
        if self.rate.is_none() {
            return Some(Duration::ZERO);
        }
        if self.shared.is_some() {
            return self.spend_allowance(user, n).then_some(Duration::ZERO);
        }
        Some(self.local_wait(user, n))
    }

    /// Spends `n` of the tokens this node holds for `user`, if it holds that many.
    fn spend_allowance(&self, user: &Arc<str>, n: u32) -> bool {
        let mut allowances = self.allowances.lock().expect("allowances lock");
        match allowances.get_mut(user) {
            Some(a) if a.tokens >= n && a.until > std::time::Instant::now() => {
                a.tokens -= n;
                true
            }
            _ => false,
        }
    }

    fn local_wait(&self, user: &Arc<str>, n: u32) -> Duration {
        let (Some(limiter), Some(n)) = (&self.local_user_rate, NonZeroU32::new(n)) else {
            return Duration::ZERO;
        };
        match limiter.check_key_n(user, n) {
            Ok(Ok(())) => Duration::ZERO,
            Ok(Err(not_until)) => not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            )),
            // More at once than the burst: never allowed in one step; callers send fewer.
            Err(_) => Duration::from_secs(1),
        }
    }

    /// How long `n` more messages from `user` must wait, counted across nodes with Redis and on
    /// this node without (or while Redis does not answer). Zero: allowed, and counted.
    pub async fn message_wait(&self, user: &Arc<str>, n: u32) -> Duration {
        if let Some(wait) = self.message_wait_locally(user, n) {
            return wait;
        }
        let Some((interval, tolerance)) = self.rate else {
            return Duration::ZERO;
        };
        // One trip to Redis takes several tokens, and the next messages spend them here: a
        // socket's frames do not each wait for a round trip. When the rate has no room for the
        // extra tokens, ask for exactly `n`.
        let key = format!("rate:user:{user}");
        let extra = self.allowance_tokens.saturating_sub(1);
        if extra > 0 {
            match self
                .shared_rate_n(&key, interval, tolerance, n + extra)
                .await
            {
                Some(wait) if wait.is_zero() => {
                    self.allowances.lock().expect("allowances lock").insert(
                        user.clone(),
                        Allowance {
                            tokens: extra,
                            until: std::time::Instant::now() + ALLOWANCE_LIFETIME,
                        },
                    );
                    return Duration::ZERO;
                }
                Some(_) => {}
                None => return self.local_wait(user, n),
            }
        }
        match self.shared_rate_n(&key, interval, tolerance, n).await {
            Some(wait) => wait,
            None => self.local_wait(user, n),
        }
    }

    /// A try on `key` that counts as a failure until it is refunded or cleared: the wait it must
    /// still make (nothing counted then), or zero with the failure counted in the same step.
    /// What a check of a secret uses, so a hundred parallel guesses cannot all pass one check.
    pub async fn backoff_attempt(&self, key: &str, policy: &Backoff) -> Duration {
        if let Some(ms) = self.backoff_shared(key, "attempt", policy).await {
            return Duration::from_millis(ms);
        }
        let mut failures = self.local_failures.lock().expect("failures lock");
        if let Some((n, last)) = failures.get(key) {
            let wait = policy.wait(*n, last.elapsed());
            if last.elapsed() < policy.memory && !wait.is_zero() {
                return wait;
            }
        }
        count_failure(&mut failures, key, policy);
        Duration::ZERO
    }

    /// Takes back the failure an attempt on `key` counted: the try succeeded, but earlier
    /// failures (from parallel tries too) still count.
    pub async fn backoff_refund(&self, key: &str, policy: &Backoff) {
        if self.backoff_shared(key, "refund", policy).await.is_some() {
            return;
        }
        let mut failures = self.local_failures.lock().expect("failures lock");
        if let Some(entry) = failures.get_mut(key) {
            if entry.0 > 1 {
                entry.0 -= 1;
            } else {
                failures.remove(key);
            }
        }
    }

    /// Forgets `key`'s failures (a success).
    pub async fn backoff_clear(&self, key: &str, policy: &Backoff) {
        if self.backoff_shared(key, "clear", policy).await.is_none() {
            self.local_failures
                .lock()
                .expect("failures lock")
                .remove(key);
        }
    }

    async fn backoff_shared(&self, key: &str, op: &str, policy: &Backoff) -> Option<u64> {
        let shared = self.shared.as_ref()?;
        let mut conn = shared.conn.clone();
        let result: ::redis::RedisResult<u64> = shared
            .backoff
            .key(format!("{}:{key}", shared.prefix))
            .arg(op)
            .arg(policy.free)
            .arg(policy.first.as_millis() as u64)
            .arg(policy.longest.as_millis() as u64)
            .arg(policy.memory.as_millis() as u64)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(ms) => Some(ms),
            Err(e) => {
                metrics::counter!("creo_shared_limit_errors_total").increment(1);
                tracing::debug!(error = %e, "shared backoff unavailable; counting on this node");
                None
            }
        }
    }

    /// One GCRA step on a cluster-wide key (under the bus prefix): the wait before the next
    /// event would be allowed (zero: allowed, and counted). `None` without Redis or when it does
    /// not answer, for the caller to count on this node instead.
    pub async fn shared_rate(
        &self,
        key: &str,
        interval_us: u64,
        tolerance_us: u64,
    ) -> Option<Duration> {
        self.shared_rate_n(key, interval_us, tolerance_us, 1).await
    }

    async fn shared_rate_n(
        &self,
        key: &str,
        interval_us: u64,
        tolerance_us: u64,
        n: u32,
    ) -> Option<Duration> {
        let shared = self.shared.as_ref()?;
        let mut conn = shared.conn.clone();
        metrics::counter!("creo_shared_rate_requests_total").increment(1);
        let result: ::redis::RedisResult<u64> = shared
            .rate
            .key(format!("{}:{key}", shared.prefix))
            .arg(interval_us)
            .arg(tolerance_us)
            .arg(n)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok(wait) => Some(Duration::from_micros(wait)),
            Err(e) => {
                metrics::counter!("creo_shared_limit_errors_total").increment(1);
                tracing::debug!(error = %e, "shared rate limit unavailable; counting on this node");
                None
            }
        }
    }
}

/// Renews this node's leases and releases ended ones, in batches.
async fn maintain(
    shared: Arc<Shared>,
    mut released: mpsc::UnboundedReceiver<(String, String, String)>,
    every: Duration,
    lease_ms: u64,
) {
    const BATCH: usize = 500;
    let mut tick = actix_rt::time::interval(every);
    let mut ended = Vec::new();
    loop {
        tokio::select! {
            n = released.recv_many(&mut ended, BATCH) => {
                if n == 0 { return; }
                let mut pipe = ::redis::pipe();
                for (user, doc, member) in ended.drain(..) {
                    pipe.zrem(user, &member).ignore().zrem(doc, &member).ignore();
                }
                let mut conn = shared.conn.clone();
                if let Err(e) = pipe.query_async::<()>(&mut conn).await {
                    // They expire on their own after the lease time.
                    tracing::debug!(error = %e, "releasing connection leases failed");
                }
            }
            _ = tick.tick() => {
                let live: Vec<(String, (String, String))> = shared
                    .leases
                    .lock()
                    .expect("leases lock")
                    .iter()
                    .map(|(m, k)| (m.clone(), k.clone()))
                    .collect();
                for chunk in live.chunks(BATCH) {
                    let mut invocation = shared.renew.prepare_invoke();
                    invocation.arg(lease_ms);
                    for (member, (user, doc)) in chunk {
                        invocation.key(user).arg(member).key(doc).arg(member);
                    }
                    let mut conn = shared.conn.clone();
                    if let Err(e) = invocation.invoke_async::<()>(&mut conn).await {
                        metrics::counter!("creo_shared_limit_errors_total").increment(1);
                        tracing::debug!(error = %e, "renewing connection leases failed");
                        break;
                    }
                }
            }
        }
    }
}

/// Counts one failure on `key`, forgetting failures older than the policy's memory first.
fn count_failure(
    failures: &mut HashMap<String, (u32, std::time::Instant)>,
    key: &str,
    policy: &Backoff,
) {
    let entry = failures
        .entry(key.to_string())
        .or_insert((0, std::time::Instant::now()));
    if entry.1.elapsed() >= policy.memory {
        entry.0 = 0;
    }
    *entry = (entry.0 + 1, std::time::Instant::now());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_after_the_free_failures_up_to_the_longest() {
        let b = Backoff {
            free: 5,
            first: Duration::from_secs(1),
            longest: Duration::from_secs(60),
            memory: Duration::from_secs(3600),
        };
        assert_eq!(b.wait(5, Duration::ZERO), Duration::ZERO);
        assert_eq!(b.wait(6, Duration::ZERO), Duration::from_secs(1));
        assert_eq!(b.wait(8, Duration::ZERO), Duration::from_secs(4));
        assert_eq!(b.wait(8, Duration::from_secs(3)), Duration::from_secs(1));
        assert_eq!(b.wait(100, Duration::ZERO), Duration::from_secs(60));
    }

    #[actix_rt::test]
    async fn an_attempt_is_counted_with_its_check_and_a_success_takes_it_back() {
        let limits = SharedLimits::start(&Config::default(), 1).unwrap();
        let b = Backoff {
            free: 2,
            first: Duration::from_secs(60),
            longest: Duration::from_secs(60),
            memory: Duration::from_secs(3600),
        };
        // Three tries pass (two free, one more before the wait); nothing counted then refused.
        for _ in 0..3 {
            assert_eq!(limits.backoff_attempt("k", &b).await, Duration::ZERO);
        }
        assert!(!limits.backoff_attempt("k", &b).await.is_zero());
        assert!(
            !limits.backoff_attempt("k", &b).await.is_zero(),
            "a refused try counts nothing"
        );
        // A right answer to one of them takes only its own count back.
        limits.backoff_refund("k", &b).await;
        assert_eq!(limits.backoff_attempt("k", &b).await, Duration::ZERO);
        assert!(!limits.backoff_attempt("k", &b).await.is_zero());
        limits.backoff_clear("k", &b).await;
        assert_eq!(limits.backoff_attempt("k", &b).await, Duration::ZERO);
    }
}
