//! Keeps a client under the server's message rate (advertised in `hello`), so that a burst of
//! posts — an outbox flushed after a reconnect, lines piped into the terminal client — waits
//! its turn instead of drawing `rate_limited` refusals and retries.

use crate::protocol::RateLimit;

/// Share of the server's limits the client allows itself: messages sent at exactly the
/// limit can arrive bunched after network jitter, and the server counts arrivals.
const BURST_SHARE: f64 = 0.5;
const RATE_SHARE: f64 = 0.8;

/// A token bucket: one token per message, `capacity` at most, refilled continuously.
#[derive(Debug)]
pub struct Pacer {
    tokens: f64,
    capacity: f64,
    per_ms: f64,
    last_ms: i64,
}

impl Pacer {
    /// A full bucket for `limit`, as a fresh connection has on the server.
    pub fn new(limit: RateLimit, now: i64) -> Self {
        let capacity = (f64::from(limit.burst) * BURST_SHARE).max(1.0);
        Self { tokens: capacity, capacity, per_ms: f64::from(limit.per_sec) * RATE_SHARE / 1_000.0, last_ms: now }
    }

    /// How many messages may go at `now`.
    pub fn budget(&mut self, now: i64) -> usize {
        // A clock that steps back refills nothing, and the bucket goes on from the new time.
        self.tokens = (self.tokens + (now - self.last_ms).max(0) as f64 * self.per_ms).min(self.capacity);
        self.last_ms = now;
        self.tokens.max(0.0) as usize
    }

    /// Counts `n` messages sent; those that cannot wait (joins, pings) may overdraw it.
    pub fn spend(&mut self, n: usize) {
        self.tokens -= n as f64;
    }
}
