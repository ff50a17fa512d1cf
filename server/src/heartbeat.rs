//! Pings for every WebSocket from one shared clock: a single task ticks every `period` (the
//! shorter of `--ping-interval-ms` and `--ping-timeout-ms`) and wakes every connection at
//! once, instead of each connection keeping a timer of its own. What a connection does on a
//! tick is [`Pulse`]'s to decide: a plain state machine, unit-tested without sockets.

use crate::session::Limits;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The shared clock: cloned into every connection's state.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    tick: Arc<Notify>,
    interval_ticks: u32,
    timeout_ticks: u32,
}

impl Heartbeat {
    /// Starts the ticking task; it stops with `shutdown`.
    pub fn start(limits: &Limits, shutdown: CancellationToken) -> Self {
        let period = limits.ping_interval.min(limits.ping_timeout).max(Duration::from_millis(1));
        let tick = Arc::new(Notify::new());
        tokio::spawn({
            let tick = tick.clone();
            async move {
                let mut clock = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
                clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = clock.tick() => tick.notify_waiters(),
                    }
                }
            }
        });
        Self {
            tick,
            interval_ticks: ticks(limits.ping_interval, period),
            timeout_ticks: ticks(limits.ping_timeout, period),
        }
    }

    /// The next tick. A tick that comes after this call and before the future is polled
    /// still counts, so a connection busy writing when the clock ticks misses nothing.
    pub fn next_tick(&self) -> OwnedNotified {
        self.tick.clone().notified_owned()
    }

    /// A new connection's pulse.
    pub fn pulse(&self) -> Pulse {
        Pulse { interval_ticks: self.interval_ticks, timeout_ticks: self.timeout_ticks, since_ping: 0, out: None }
    }
}

/// Whole ticks in `span`, at least one.
fn ticks(span: Duration, period: Duration) -> u32 {
    let n = span.as_nanos().div_ceil(period.as_nanos().max(1));
    u32::try_from(n).unwrap_or(u32::MAX).max(1)
}

/// One connection's side of the heartbeat: when to ping, and when the peer is gone.
#[derive(Debug)]
pub struct Pulse {
    interval_ticks: u32,
    timeout_ticks: u32,
    /// Ticks since the last ping (or since the connection opened).
    since_ping: u32,
    /// While a ping is out: how many frames had been heard when it was sent.
    out: Option<u64>,
}

/// What a tick asks of the connection.
#[derive(Debug, PartialEq, Eq)]
pub enum Beat {
    Nothing,
    Ping,
    /// No frame since the last ping, for the whole timeout: close with HEARTBEAT_TIMEOUT.
    Dead,
}

impl Pulse {
    /// One tick of the shared clock; `heard` counts the frames read from the peer so far (any
    /// frame proves it alive, not only a pong).
    pub fn on_tick(&mut self, heard: u64) -> Beat {
        self.since_ping = self.since_ping.saturating_add(1);
        if let Some(at_ping) = self.out {
            if heard != at_ping {
                self.out = None;
            } else if self.since_ping >= self.timeout_ticks {
                return Beat::Dead;
            }
        }
        if self.out.is_none() && self.since_ping >= self.interval_ticks {
            self.out = Some(heard);
            self.since_ping = 0;
            return Beat::Ping;
        }
        Beat::Nothing
    }
}

#[cfg(test)]
mod tests {
    use super::{ticks, Beat, Pulse};
    use std::time::Duration;

    fn pulse(interval_ms: u64, timeout_ms: u64) -> Pulse {
        let (interval, timeout) = (Duration::from_millis(interval_ms), Duration::from_millis(timeout_ms));
        let period = interval.min(timeout);
        Pulse {
            interval_ticks: ticks(interval, period),
            timeout_ticks: ticks(timeout, period),
            since_ping: 0,
            out: None,
        }
    }

    #[test]
    fn a_silent_peer_is_dead_one_timeout_after_the_ping() {
        // The defaults: 20 s and 20 s, one tick every 20 s.
        let mut p = pulse(20_000, 20_000);
        assert_eq!(p.on_tick(0), Beat::Ping, "20 s: the first ping");
        assert_eq!(p.on_tick(0), Beat::Dead, "40 s: nothing heard since");
    }

    #[test]
    fn any_frame_keeps_a_peer_alive_and_pings_go_on_every_interval() {
        // Pings every second, three seconds to answer: one tick a second.
        let mut p = pulse(1_000, 3_000);
        assert_eq!(p.on_tick(0), Beat::Ping);
        assert_eq!(p.on_tick(0), Beat::Nothing, "1 s after the ping: still in time");
        assert_eq!(p.on_tick(1), Beat::Ping, "heard from: alive, and an interval has passed");
        assert_eq!(p.on_tick(1), Beat::Nothing);
        assert_eq!(p.on_tick(1), Beat::Nothing);
        assert_eq!(p.on_tick(1), Beat::Dead, "3 s after the second ping, nothing new heard");
    }

    #[test]
    fn a_long_interval_waits_whole_ticks_before_pinging() {
        // Pings every 25 s, 10 s to answer: one tick every 10 s, the ping on the third.
        let mut p = pulse(25_000, 10_000);
        assert_eq!(p.on_tick(0), Beat::Nothing);
        assert_eq!(p.on_tick(0), Beat::Nothing);
        assert_eq!(p.on_tick(0), Beat::Ping);
        assert_eq!(p.on_tick(5), Beat::Nothing, "answered");
        assert_eq!(p.on_tick(5), Beat::Nothing);
        assert_eq!(p.on_tick(5), Beat::Ping);
        assert_eq!(p.on_tick(5), Beat::Dead);
    }
}
