//! How long to wait before reconnecting: exponential backoff with full jitter, so a crowd
//! that lost the server together does not come back together.

use std::time::Duration;

/// The wait after n failures in a row is up to this × 2ⁿ (so up to 500 ms after the first),
/// at most [`MAX_DELAY_MS`].
const BASE_DELAY_MS: f64 = 250.0;
const MAX_DELAY_MS: f64 = 10_000.0;
/// Never retry sooner than this, even when the dice say 0.
const MIN_DELAY_MS: f64 = 100.0;

/// Failed attempts in a row, and the delay before the next one.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// Attempts that failed since the last successful join.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Counts a failed attempt and returns the wait before the next one; `random` is uniform
    /// in [0, 1) (the caller's source, so the policy stays deterministic under test).
    pub fn failed(&mut self, random: f64) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let cap = (BASE_DELAY_MS * 2f64.powi(self.failures.min(16) as i32)).min(MAX_DELAY_MS);
        Duration::from_millis((random.clamp(0.0, 1.0) * cap).max(MIN_DELAY_MS) as u64)
    }

    /// A join succeeded: the next loss starts from the shortest delay again.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}
