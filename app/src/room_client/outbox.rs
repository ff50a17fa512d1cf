//! The posts a client wrote that the server has not stored yet, oldest first. A post leaves
//! only when the server stored it (an `ack`, or the post itself coming back) or refused it
//! for good; until then it is sent again on every join, under the same client id, so the
//! server stores it once.

use crate::domain::{ClientId, PostText};
use serde::{Deserialize, Serialize};

/// A post will be answered within this long, or the connection is taken for dead.
pub const ANSWER_TIMEOUT_MS: i64 = 10_000;
/// A post the server turned away for now (`rate_limited`, `internal`) goes again this much
/// later, doubled at each refusal of the same post up to [`RETRY_REFUSED_MAX_MS`], so that a
/// server in trouble is not asked again every second by every client.
pub const RETRY_REFUSED_AFTER_MS: i64 = 1_000;
pub const RETRY_REFUSED_MAX_MS: i64 = 16_000;

/// A post waiting to be stored; what a client keeps across restarts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub client_id: ClientId,
    pub text: PostText,
}

#[derive(Debug)]
struct Waiting {
    entry: OutboxEntry,
    /// When it was last sent on the current connection and not yet answered.
    sent_at: Option<i64>,
    /// When to send it again after a refusal for now.
    retry_at: Option<i64>,
    /// How often the server turned it away for now.
    refusals: u32,
}

#[derive(Debug, Default)]
pub struct Outbox {
    waiting: Vec<Waiting>,
}

impl Outbox {
    pub fn new(saved: Vec<OutboxEntry>) -> Self {
        Self {
            waiting: saved
                .into_iter()
                .map(|entry| Waiting { entry, sent_at: None, retry_at: None, refusals: 0 })
                .collect(),
        }
    }

    pub fn entries(&self) -> Vec<OutboxEntry> {
        self.waiting.iter().map(|w| w.entry.clone()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Adds a post; a client id already waiting is not added twice.
    pub fn push(&mut self, entry: OutboxEntry) -> bool {
        if self.waiting.iter().any(|w| w.entry.client_id == entry.client_id) {
            return false;
        }
        self.waiting.push(Waiting { entry, sent_at: None, retry_at: None, refusals: 0 });
        true
    }

    /// Removes a post the server stored or refused for good.
    pub fn remove(&mut self, client_id: &ClientId) -> Option<OutboxEntry> {
        let at = self.waiting.iter().position(|w| &w.entry.client_id == client_id)?;
        Some(self.waiting.remove(at).entry)
    }

    /// Up to `budget` posts that may go at `now`, oldest first, marked as sent: those not in
    /// flight, stopping at one that waits to be retried, so that no post overtakes another.
    pub fn ready(&mut self, now: i64, budget: usize) -> Vec<OutboxEntry> {
        let unsent = self.waiting.iter_mut().filter(|w| w.sent_at.is_none());
        let ready = unsent.take_while(|w| w.retry_at.is_none_or(|at| at <= now));
        ready.take(budget).map(|w| w.sent(now)).collect()
    }

    /// The server did not take a post because the connection was not in the room: it goes
    /// again with the next `joined`.
    pub fn unsend(&mut self, client_id: &ClientId) {
        if let Some(w) = self.waiting.iter_mut().find(|w| &w.entry.client_id == client_id) {
            w.sent_at = None;
        }
    }

    /// The server turned a post away for now: it no longer counts as awaiting an answer, and
    /// goes again after a pause that grows with each refusal.
    pub fn retry_later(&mut self, client_id: &ClientId, now: i64) {
        if let Some(w) = self.waiting.iter_mut().find(|w| &w.entry.client_id == client_id) {
            let pause = (RETRY_REFUSED_AFTER_MS << w.refusals.min(8)).min(RETRY_REFUSED_MAX_MS);
            w.refusals = w.refusals.saturating_add(1);
            w.sent_at = None;
            w.retry_at = Some(now + pause);
        }
    }

    /// True when a post sent on this connection has waited too long for its answer.
    pub fn overdue(&self, now: i64) -> bool {
        self.waiting.iter().any(|w| w.sent_at.is_some_and(|at| now - at > ANSWER_TIMEOUT_MS))
    }

    /// A connection ended: nothing is in flight any more.
    pub fn connection_lost(&mut self) {
        for w in &mut self.waiting {
            w.sent_at = None;
            w.retry_at = None;
        }
    }
}

impl Waiting {
    fn sent(&mut self, now: i64) -> OutboxEntry {
        self.sent_at = Some(now);
        self.retry_at = None;
        self.entry.clone()
    }
}
