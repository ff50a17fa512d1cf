//! A connection's writer: drains its bounded queue onto the socket, pings the peer, and owns
//! every way the socket closes: shutdown (1001), a full queue (SLOW_CONSUMER), a silent peer
//! (HEARTBEAT_TIMEOUT), or a close the reader queued (1009 for an oversized message).
//!
//! A write to a peer that takes nothing fails after `--write-timeout-ms` (the connection's
//! stream carries that deadline, see `serve.rs`); shutdown and overflow are noticed while a
//! write is pending, and a peer that still takes nothing then is dropped without a close frame.

use crate::queue::{Frame, Outbound, Queue};
use app::protocol::close;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures::stream::SplitSink;
use futures::SinkExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

pub struct Writer {
    pub sink: SplitSink<WebSocket, Message>,
    pub queue: Queue,
    pub overflowed: CancellationToken,
    pub shutdown: CancellationToken,
    /// Cancelled when the writer ends, so the reader stops too.
    pub done: CancellationToken,
    /// Frames the reader has received: any frame after a ping proves the peer alive.
    pub heard: Arc<AtomicU64>,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub metrics: crate::metrics::Metrics,
}

/// Most frames written between two flushes: bounds how long one burst holds the writer.
const BURST: usize = 64;

/// When a close is due while a write is pending, how long the write may still take so the
/// close frame can follow it.
const CLOSING_WRITE_GRACE: Duration = Duration::from_secs(1);

/// A close code and reason.
type Close = (u16, &'static str);

/// How a burst of writes ended.
enum Burst {
    /// Written; the queue held this close after the frames.
    Written(Option<Close>),
    /// The socket failed or took nothing in time: nothing more can be sent.
    Failed,
}

impl Writer {
    /// Writes `first` and whatever else is already queued (up to [`BURST`] frames), then
    /// flushes once: a broadcast burst costs one flush, not one per frame. Returns a close
    /// found in the queue (after the frames before it are written), or Err if the socket failed.
    async fn write_burst(&mut self, first: Arc<Frame>) -> Result<Option<Close>, ()> {
        self.sink.feed(Message::Text(Utf8Bytes::clone(&first))).await.map_err(|_| ())?;
        // Each frame is let go of only once flushed: a post's frame times its last write. (A
        // Vec, not an array: the writer's future would carry the array even while idle.)
        let mut fed = Vec::new();
        let mut close = None;
        for _ in 1..BURST {
            match self.queue.try_recv() {
                Some(Outbound::Text(text)) => {
                    self.sink.feed(Message::Text(Utf8Bytes::clone(&text))).await.map_err(|_| ())?;
                    fed.push(text);
                }
                Some(Outbound::Close(&(code, reason))) => {
                    close = Some((code, reason));
                    break;
                }
                None => break,
            }
        }
        self.sink.flush().await.map_err(|_| ())?;
        drop((first, fed));
        Ok(close)
    }

    /// Writes a burst while watching `due`: if a close becomes due first, the write gets
    /// [`CLOSING_WRITE_GRACE`] to finish before that close is sent; a peer that takes nothing
    /// in that time is dropped without one.
    async fn write_noticing(&mut self, first: Arc<Frame>, due: impl std::future::Future<Output = Close>) -> Burst {
        let (close, finished) = {
            let write = self.write_burst(first);
            tokio::pin!(write);
            let close = tokio::select! {
                biased;
                written = &mut write => return written.map_or(Burst::Failed, Burst::Written),
                close = due => close,
            };
            (close, tokio::time::timeout(CLOSING_WRITE_GRACE, write).await)
        };
        match finished {
            Ok(Ok(_)) => Burst::Written(Some(close)),
            _ => {
                tracing::info!(code = close.0, "dropped without a close frame: the peer takes nothing");
                self.metrics.closed(close.0);
                Burst::Failed
            }
        }
    }

    pub async fn run(mut self) {
        let _done = self.done.clone().drop_guard();
        // Made once, not per frame: re-creating these futures on every wake-up cost about as
        // much as writing the frame (timer entries, notifier registrations).
        let shutdown = self.shutdown.clone().cancelled_owned();
        let overflowed = self.overflowed.clone().cancelled_owned();
        let timer = sleep_until(Instant::now() + self.ping_interval);
        tokio::pin!(shutdown, overflowed, timer);
        // While a ping is out: how many frames had been heard when it was sent.
        let mut ping_out: Option<u64> = None;
        let closing = loop {
            let item = tokio::select! {
                biased;
                _ = &mut shutdown => break Some((close::GOING_AWAY, "server shutting down")),
                _ = &mut overflowed => break Some((close::SLOW_CONSUMER, "too slow: outgoing queue full")),
                _ = &mut timer => {
                    let heard = self.heard.load(Ordering::Relaxed);
                    match ping_out {
                        Some(at_ping) if heard == at_ping => {
                            break Some((close::HEARTBEAT_TIMEOUT, "no answer to ping"));
                        }
                        Some(_) => {
                            // Alive. The next ping is due one interval after the last one.
                            ping_out = None;
                            let next = self.ping_interval.saturating_sub(self.ping_timeout);
                            timer.as_mut().reset(Instant::now() + next);
                        }
                        None => {
                            if self.sink.send(Message::Ping(Default::default())).await.is_err() {
                                return;
                            }
                            ping_out = Some(heard);
                            timer.as_mut().reset(Instant::now() + self.ping_timeout);
                        }
                    }
                    continue;
                }
                item = self.queue.recv() => item,
            };
            match item {
                None => break None,
                Some(Outbound::Close(&(code, reason))) => break Some((code, reason)),
                Some(Outbound::Text(text)) => {
                    let due = async {
                        tokio::select! {
                            biased;
                            _ = &mut shutdown => (close::GOING_AWAY, "server shutting down"),
                            _ = &mut overflowed => (close::SLOW_CONSUMER, "too slow: outgoing queue full"),
                        }
                    };
                    match self.write_noticing(text, due).await {
                        Burst::Written(None) => {}
                        Burst::Written(Some(close)) => break Some(close),
                        Burst::Failed => return,
                    }
                }
            }
        };
        // Nothing queued goes out after a close: let go of it now, not after the handshake.
        self.queue.close();
        if let Some((code, reason)) = closing {
            tracing::info!(code, "closing");
            self.metrics.closed(code);
            let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
            // A dead peer may never take the frame: do not wait on it forever.
            let _ = tokio::time::timeout(self.ping_timeout, self.sink.send(frame)).await;
        }
        let _ = tokio::time::timeout(self.ping_timeout, self.sink.close()).await;
    }
}
