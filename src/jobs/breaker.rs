//! A circuit breaker per destination (scheme, host and port), so a receiver that is down is not
//! hammered by every queued delivery: after `failures` failures in a row its circuit opens, and
//! for `open_for` no request goes to it (jobs wait, without spending a try). Then one trial
//! request goes through (half-open): success closes the circuit, failure opens it again.
//!
//! The state is per process: each worker learns on its own that a destination is down, within
//! `failures` requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Circuit {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// One trial request is out.
    HalfOpen,
}

pub struct Breakers {
    failures: u32,
    open_for: Duration,
    circuits: Mutex<HashMap<String, Circuit>>,
}

impl Breakers {
    pub fn new(failures: u32, open_for: Duration) -> Breakers {
        Breakers {
            failures: failures.max(1),
            open_for,
            circuits: Mutex::default(),
        }
    }

    /// Whether a request to `destination` may go now; `Err(wait)`: not before `wait`.
    pub fn admit(&self, destination: &str) -> Result<(), Duration> {
        let mut circuits = self.circuits.lock().expect("breaker lock");
        let circuit = circuits
            .entry(destination.to_string())
            .or_insert(Circuit::Closed { failures: 0 });
        match *circuit {
            Circuit::Closed { .. } => Ok(()),
            Circuit::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *circuit = Circuit::HalfOpen;
                    Ok(())
                } else {
                    Err(until - now)
                }
            }
            // The trial's answer decides; others wait a little.
            Circuit::HalfOpen => Err(self.open_for / 10),
        }
    }

    /// The answer of a request `admit` let through.
    pub fn record(&self, destination: &str, ok: bool) {
        let mut circuits = self.circuits.lock().expect("breaker lock");
        let circuit = circuits
            .entry(destination.to_string())
            .or_insert(Circuit::Closed { failures: 0 });
        let next = match (*circuit, ok) {
            (_, true) => Circuit::Closed { failures: 0 },
            (Circuit::Closed { failures }, false) if failures + 1 < self.failures => {
                Circuit::Closed {
                    failures: failures + 1,
                }
            }
            (_, false) => {
                if !matches!(*circuit, Circuit::Open { .. }) {
                    metrics::counter!("creo_circuit_opened_total").increment(1);
                    tracing::warn!(destination, "circuit opened: the destination keeps failing");
                }
                Circuit::Open {
                    until: Instant::now() + self.open_for,
                }
            }
        };
        *circuit = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_failures_then_lets_one_trial_through() {
        let b = Breakers::new(3, Duration::from_millis(50));
        for _ in 0..2 {
            assert!(b.admit("d").is_ok());
            b.record("d", false);
        }
        assert!(b.admit("d").is_ok(), "two failures: still closed");
        b.record("d", false);
        assert!(b.admit("d").is_err(), "third failure opens it");
        assert!(b.admit("other").is_ok(), "per destination");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.admit("d").is_ok(), "half-open: one trial");
        assert!(b.admit("d").is_err(), "only one trial at a time");
        b.record("d", false);
        assert!(b.admit("d").is_err(), "a failed trial opens it again");
        std::thread::sleep(Duration::from_millis(60));
        assert!(b.admit("d").is_ok());
        b.record("d", true);
        assert!(b.admit("d").is_ok() && b.admit("d").is_ok(), "closed again");
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = Breakers::new(2, Duration::from_secs(60));
        b.record("d", false);
        b.record("d", true);
        b.record("d", false);
        assert!(b.admit("d").is_ok());
    }
}
