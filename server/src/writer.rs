//! A connection's writer: drains its bounded queue onto the socket, pings the peer, and owns
//! every way the socket closes: shutdown (1001), a full queue (SLOW_CONSUMER), a silent peer
//! (HEARTBEAT_TIMEOUT), or a close the reader queued (1009 for an oversized message).

use crate::queue::{Outbound, Queue};
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

impl Writer {
    /// Writes `first` and whatever else is already queued (up to [`BURST`] frames), then
    /// flushes once: a broadcast burst costs one flush, not one per frame. Returns a close
    /// found in the queue (after the frames before it are written), or Err if the socket failed.
    async fn write_burst(&mut self, first: Arc<Utf8Bytes>) -> Result<Option<(u16, &'static str)>, ()> {
        self.sink.feed(Message::Text(Utf8Bytes::clone(&first))).await.map_err(|_| ())?;
        let mut close = None;
        for _ in 1..BURST {
            match self.queue.try_recv() {
                Some(Outbound::Text(text)) => {
                    self.sink.feed(Message::Text(Utf8Bytes::clone(&text))).await.map_err(|_| ())?
                }
                Some(Outbound::Close(&(code, reason))) => {
                    close = Some((code, reason));
                    break;
                }
                None => break,
            }
        }
        self.sink.flush().await.map_err(|_| ())?;
        Ok(close)
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
                Some(Outbound::Text(text)) => match self.write_burst(text).await {
                    Ok(None) => {}
                    Ok(Some(close)) => break Some(close),
                    Err(()) => return,
                },
            }
        };
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
