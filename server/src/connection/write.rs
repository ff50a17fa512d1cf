//! A connection's writes: bursts of queued frames with one flush, pings, and the close.
//!
//! A write to a peer that takes nothing fails after `--write-timeout-ms` (the connection's
//! stream carries that deadline, see `serve.rs`); shutdown and overflow are noticed while a
//! write is pending, and a peer that still takes nothing then is dropped without a close frame.

use super::{Close, Connection, Ending};
use crate::queue::Frame;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes};
use futures::SinkExt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Most frames written between two flushes: bounds how long one burst holds the connection.
const BURST: usize = 64;

/// When a close is due while a write is pending, how long the write may still take so the
/// close frame can follow it.
const CLOSING_WRITE_GRACE: Duration = Duration::from_secs(1);

/// How a burst of writes ended.
pub(super) enum Burst {
    /// Written; this close became due meanwhile.
    Written(Option<Close>),
    /// The socket failed or took nothing in time: nothing more can be sent.
    Failed,
}

impl Connection {
    /// Writes `first` and whatever else is already queued (up to [`BURST`] frames), then
    /// flushes once: a broadcast burst costs one flush, not one per frame. Err if the socket
    /// failed.
    async fn write_burst(&mut self, first: Arc<Frame>) -> Result<(), ()> {
        self.socket.feed(Message::Text(Utf8Bytes::clone(&first))).await.map_err(|_| ())?;
        // Each frame is let go of only once flushed: a post's frame times its last write. (A
        // Vec, not an array: the connection's future would carry the array even while idle.)
        let mut fed = Vec::new();
        for _ in 1..BURST {
            let Some(text) = self.queue.try_recv() else { break };
            self.socket.feed(Message::Text(Utf8Bytes::clone(&text))).await.map_err(|_| ())?;
            fed.push(text);
        }
        self.socket.flush().await.map_err(|_| ())?;
        drop((first, fed));
        Ok(())
    }

    /// Writes a burst while watching `due`: if a close becomes due first, the write gets
    /// [`CLOSING_WRITE_GRACE`] to finish before that close is sent; a peer that takes nothing
    /// in that time is dropped without one.
    pub(super) async fn write_noticing(&mut self, first: Arc<Frame>, due: impl Future<Output = Close>) -> Burst {
        let id = self.id;
        let metrics = self.state.metrics.clone();
        let (close, finished) = {
            let write = self.write_burst(first);
            tokio::pin!(write);
            let close = tokio::select! {
                biased;
                written = &mut write => return written.map_or(Burst::Failed, |()| Burst::Written(None)),
                close = due => close,
            };
            // Boxed: rare, and an idle connection's future should not carry its timer.
            (close, Box::pin(tokio::time::timeout(CLOSING_WRITE_GRACE, write)).await)
        };
        match finished {
            Ok(Ok(_)) => Burst::Written(Some(close)),
            _ => {
                tracing::info!(id, code = close.0, "dropped without a close frame: the peer takes nothing");
                metrics.closed(close.0);
                Burst::Failed
            }
        }
    }

    /// A ping, flushed at once.
    pub(super) async fn ping(&mut self) -> Result<(), axum::Error> {
        self.socket.send(Message::Ping(Default::default())).await
    }

    /// Leaves every room and lets go of whatever is still queued, then sends the close frame
    /// (if any) and shuts the socket, waiting at most the ping timeout for each: a dead peer
    /// may never take them.
    pub(super) async fn finish(&mut self, ending: Ending) {
        let patience = self.state.limits.ping_timeout;
        // A frame still being handled is finished apart (a moderator's block and its audit
        // row, a post still on its way to the hub): the session it holds, and with it the
        // disconnect, goes once it is done.
        if let Some(handling) = self.handling.take() {
            self.state.tracker.spawn(async move { drop(handling.await) });
        }
        self.session = None;
        self.queue.close();
        match ending {
            Ending::Broken => return,
            Ending::PeerDone => {}
            Ending::Close((code, reason)) => {
                tracing::info!(id = self.id, code, "closing");
                self.state.metrics.closed(code);
                let frame = Message::Close(Some(CloseFrame { code, reason: reason.into() }));
                let _ = tokio::time::timeout(patience, self.socket.send(frame)).await;
            }
        }
        let _ = tokio::time::timeout(patience, SinkExt::close(&mut self.socket)).await;
    }
}
