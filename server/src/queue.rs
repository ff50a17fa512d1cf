//! A connection's bounded outgoing queue, and the handle others use to fill it.
//!
//! Nothing that sends to a client ever waits on that client: the hub uses
//! [`ClientHandle::deliver`], which either queues the frame or, when the queue is full,
//! marks the client for closing with [`close::SLOW_CONSUMER`]. No frame is dropped silently.

use app::protocol::close;
use axum::extract::ws::Utf8Bytes;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// One item in a connection's queue: one pointer wide, because every connection's queue
/// starts with a block of 32 slots, idle or not.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A JSON text frame, shared: a broadcast is encoded once and queued for every member.
    Text(Arc<Utf8Bytes>),
    /// Close the socket with this (code, reason) after the frames queued before it.
    Close(&'static (u16, &'static str)),
}

impl Outbound {
    pub fn text(json: String) -> Self {
        Self::Text(Arc::new(json.into()))
    }
}

/// The sending side of one connection: its queue, plus the switch that closes it when full.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    tx: flume::Sender<Outbound>,
    overflowed: CancellationToken,
}

/// Whether [`ClientHandle::deliver`] queued the frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Queued,
    /// The queue was full: the client is being closed with [`close::SLOW_CONSUMER`].
    Overflowed,
    /// The connection is gone.
    Gone,
}

impl ClientHandle {
    /// Creates a queue of `capacity` frames; the receiver belongs to the connection's writer.
    pub fn channel(capacity: usize) -> (Self, Queue, CancellationToken) {
        let (tx, rx) = flume::bounded(capacity.max(1));
        let overflowed = CancellationToken::new();
        (Self { tx, overflowed: overflowed.clone() }, Queue(rx), overflowed)
    }

    /// Queues a frame without waiting.
    pub fn deliver(&self, frame: Outbound) -> Delivery {
        match self.tx.try_send(frame) {
            Ok(()) => Delivery::Queued,
            Err(flume::TrySendError::Full(_)) => {
                tracing::warn!(code = close::SLOW_CONSUMER, "client queue full; closing it");
                self.overflowed.cancel();
                Delivery::Overflowed
            }
            Err(flume::TrySendError::Disconnected(_)) => Delivery::Gone,
        }
    }

    /// Queues a frame, waiting for room: only the connection's own reader uses this, so a
    /// client that does not read slows down nobody but itself.
    pub async fn send(&self, frame: Outbound) -> Result<(), Delivery> {
        self.tx.send_async(frame).await.map_err(|_| Delivery::Gone)
    }
}

/// The receiving end of a connection's queue, read by its writer. A flume channel: its
/// buffer is allocated as frames arrive, where tokio's mpsc allocates 32 slots up front for
/// every connection, idle or not.
#[derive(Debug)]
pub struct Queue(flume::Receiver<Outbound>);

impl Queue {
    /// The next frame; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Outbound> {
        self.0.recv_async().await.ok()
    }

    /// The next frame if one is waiting.
    pub fn try_recv(&mut self) -> Option<Outbound> {
        self.0.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Outbound;

    #[test]
    fn a_queued_frame_is_two_words() {
        // Queued frames are what a slow client's memory is made of: 256 of them at 16 bytes
        // (the shared frame's pointer and the variant) is 4 KiB, the frames themselves shared.
        assert_eq!(std::mem::size_of::<Outbound>(), 16);
    }
}
