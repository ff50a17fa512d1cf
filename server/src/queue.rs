//! A connection's bounded outgoing queue, and the handle others use to fill it.
//!
//! Nothing that sends to a client ever waits on that client: the hub uses
//! [`ClientHandle::deliver`], which either queues the frame or, when the queue is full,
//! marks the client for closing with [`close::SLOW_CONSUMER`]. No frame is dropped silently.

use app::protocol::close;
use axum::extract::ws::Utf8Bytes;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// One item in a connection's queue.
#[derive(Debug, Clone)]
pub enum Outbound {
    /// A JSON text frame (shared bytes: a broadcast is encoded once for every member).
    Text(Utf8Bytes),
    /// Close the socket with this code and reason after the frames queued before it.
    Close(u16, &'static str),
}

/// The sending side of one connection: its queue, plus the switch that closes it when full.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    tx: mpsc::Sender<Outbound>,
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
    pub fn channel(capacity: usize) -> (Self, mpsc::Receiver<Outbound>, CancellationToken) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let overflowed = CancellationToken::new();
        (Self { tx, overflowed: overflowed.clone() }, rx, overflowed)
    }

    /// Queues a frame without waiting.
    pub fn deliver(&self, frame: Outbound) -> Delivery {
        match self.tx.try_send(frame) {
            Ok(()) => Delivery::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(code = close::SLOW_CONSUMER, "client queue full; closing it");
                self.overflowed.cancel();
                Delivery::Overflowed
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Delivery::Gone,
        }
    }

    /// Queues a frame, waiting for room: only the connection's own reader uses this, so a
    /// client that does not read slows down nobody but itself.
    pub async fn send(&self, frame: Outbound) -> Result<(), Delivery> {
        self.tx.send(frame).await.map_err(|_| Delivery::Gone)
    }
}
