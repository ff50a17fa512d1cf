//! A connection's writes: bursts of queued frames with one flush, pings, and the close.
//!
//! A write to a peer that takes nothing fails after `--write-timeout-ms` (the connection's
//! stream carries that deadline, see `serve.rs`); shutdown and overflow are noticed while a
//! write is pending, and a peer that still takes nothing then is dropped without a close frame.

use super::{Close, Connection, Ending};
use crate::frame::Frame;
use futures::SinkExt;
use std::future::Future;
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tungstenite::protocol::CloseFrame;
use tungstenite::Message;

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
    /// Writes `first` and whatever else is already queued (up to [`BURST`] frames) in one
    /// vectored write of the frames as they were framed once for every member, then flushes:
    /// a broadcast burst costs one write call and no copy. Err if the socket failed.
    async fn write_burst(&mut self, first: Arc<Frame>) -> Result<(), ()> {
        // Each frame is let go of only once flushed: a post's frame times its last write. (A
        // Vec, not an array: the connection's future would carry the array even while idle.)
        let mut frames = vec![first];
        while frames.len() < BURST {
            let Some(frame) = self.queue.try_recv() else { break };
            frames.push(frame);
        }
        // Whatever tungstenite still holds (a pong it owes the peer, part of a ping) goes out
        // whole first: the frames below go to the stream itself, so only whole frames may
        // be in front of them. (Its flush would also send its answer to a peer's Close and
        // call that done; no burst follows one, since reading a Close ends the loop at once.)
        // A burst cut short (an error, a write past its deadline) ends the connection with
        // nothing more written, not even a close frame, so no frame ever follows a torn one.
        self.socket.flush().await.map_err(|_| ())?;
        let mut slices: Vec<IoSlice> =
            frames.iter().flat_map(|frame| [IoSlice::new(frame.header()), IoSlice::new(frame.as_bytes())]).collect();
        let stream = self.socket.get_mut();
        write_all_vectored(stream, &mut slices).await.map_err(|_| ())?;
        stream.flush().await.map_err(|_| ())
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
    pub(super) async fn ping(&mut self) -> Result<(), tungstenite::Error> {
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
                let frame = Message::Close(Some(CloseFrame { code: code.into(), reason: reason.into() }));
                let _ = tokio::time::timeout(patience, self.socket.send(frame)).await;
            }
        }
        let _ = tokio::time::timeout(patience, SinkExt::close(&mut self.socket)).await;
    }
}

/// Writes every slice, however little each call takes (a socket takes what its buffer has
/// room for, and a writer that is not vectored takes one slice per call).
async fn write_all_vectored(stream: &mut (impl AsyncWrite + Unpin), slices: &mut [IoSlice<'_>]) -> std::io::Result<()> {
    let mut unwritten = slices;
    while !unwritten.is_empty() {
        match stream.write_vectored(unwritten).await? {
            0 => return Err(std::io::ErrorKind::WriteZero.into()),
            n => IoSlice::advance_slices(&mut unwritten, n),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::write_all_vectored;
    use std::io::IoSlice;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn every_slice_is_written_whole_and_in_order_however_little_each_write_takes() {
        let parts: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; usize::from(i) * 3 + 1]).collect();
        let mut slices: Vec<IoSlice> = parts.iter().map(|part| IoSlice::new(part)).collect();
        // Seven bytes of room: most writes take part of a slice.
        let (mut writer, mut reader) = tokio::io::duplex(7);
        let read = tokio::spawn(async move {
            let mut got = Vec::new();
            reader.read_to_end(&mut got).await.map(|_| got)
        });
        write_all_vectored(&mut writer, &mut slices).await.expect("written");
        drop(writer);
        assert_eq!(read.await.unwrap().unwrap(), parts.concat());
    }
}
