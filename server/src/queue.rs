//! A connection's bounded outgoing queue, and the handle others use to fill it.
//!
//! Nothing that sends to a client ever waits on that client: the hub uses
//! [`ClientHandle::deliver`], which either queues the frame or, when the queue is full,
//! marks the client for closing with [`close::SLOW_CONSUMER`]. No frame is dropped silently.
//!
//! A queue is bounded twice: in frames, and in bytes (a frame can be 8 KB of post or a
//! `joined` of many posts), so what one client can pin is at most `--queue-bytes`.

use crate::frame::Frame;
use app::protocol::close;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The sending side of one connection: its queue, plus the switch that closes it when full.
#[derive(Debug, Clone)]
pub struct ClientHandle {
    tx: flume::Sender<Arc<Frame>>,
    /// Most frames queued at once (the channel itself is unbounded: a reply must never wait
    /// on the task that drains it, its own connection's).
    capacity: usize,
    bytes: Budget,
    overflowed: CancellationToken,
}

/// Bytes queued and not yet taken by the writer, against a limit.
#[derive(Debug, Clone)]
struct Budget {
    queued: Arc<AtomicUsize>,
    limit: usize,
}

impl Budget {
    /// Counts `n` more bytes; false (and nothing counted) when that would pass the limit.
    fn take(&self, n: usize) -> bool {
        let before = self.queued.fetch_add(n, Ordering::Relaxed);
        if before.saturating_add(n) > self.limit && before > 0 {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            return false;
        }
        true
    }

    fn give_back(&self, n: usize) {
        self.queued.fetch_sub(n, Ordering::Relaxed);
    }
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
    /// Creates a queue of at most `capacity` frames and `max_bytes` bytes (one frame larger
    /// than that still fits in an empty queue); the receiver belongs to the connection's writer.
    pub fn channel(capacity: usize, max_bytes: usize) -> (Self, Queue, CancellationToken) {
        Self::with_token(capacity, max_bytes, CancellationToken::new())
    }

    /// As [`ClientHandle::channel`], with an overflow token that `parent` cancels too: a
    /// WebSocket watches one token for shutdown and overflow alike.
    pub fn channel_within(
        capacity: usize,
        max_bytes: usize,
        parent: &CancellationToken,
    ) -> (Self, Queue, CancellationToken) {
        Self::with_token(capacity, max_bytes, parent.child_token())
    }

    fn with_token(
        capacity: usize,
        max_bytes: usize,
        overflowed: CancellationToken,
    ) -> (Self, Queue, CancellationToken) {
        let (tx, rx) = flume::unbounded();
        let bytes = Budget { queued: Arc::new(AtomicUsize::new(0)), limit: max_bytes };
        let capacity = capacity.max(1);
        (Self { tx, capacity, bytes: bytes.clone(), overflowed: overflowed.clone() }, Queue { rx, bytes }, overflowed)
    }

    /// Queues a frame without waiting.
    pub fn deliver(&self, frame: Arc<Frame>) -> Delivery {
        if self.tx.len() >= self.capacity {
            return if self.tx.is_disconnected() {
                Delivery::Gone
            } else {
                self.overflow("client queue full; closing it")
            };
        }
        let n = frame.len();
        if !self.bytes.take(n) {
            return self.overflow("client queue over its byte limit; closing it");
        }
        match self.tx.send(frame) {
            Ok(()) => Delivery::Queued,
            Err(_) => {
                self.bytes.give_back(n);
                Delivery::Gone
            }
        }
    }

    /// Closes the client as too slow without queueing anything (the hub held more for it
    /// than it may).
    pub fn give_up(&self) {
        self.overflow("client fell too far behind while joining; closing it");
    }

    fn overflow(&self, why: &'static str) -> Delivery {
        tracing::warn!(code = close::SLOW_CONSUMER, why);
        self.overflowed.cancel();
        Delivery::Overflowed
    }

    /// Queues one of the connection's own replies. A reply is counted in bytes
    /// but never overflows the queue and never waits: the connection reads no more frames
    /// while [`ClientHandle::has_room`] is false, so a client that does not read slows down
    /// nobody but itself, and its replies stay bounded by what it may have in flight.
    pub fn reply(&self, frame: Arc<Frame>) -> Result<(), Delivery> {
        let n = frame.len();
        self.bytes.queued.fetch_add(n, Ordering::Relaxed);
        self.tx.send(frame).map_err(|_| {
            self.bytes.give_back(n);
            Delivery::Gone
        })
    }

    /// Whether the queue is under both its bounds: the connection reads its client's next
    /// frame only then.
    pub fn has_room(&self) -> bool {
        self.tx.len() < self.capacity && self.bytes.queued.load(Ordering::Relaxed) < self.bytes.limit
    }
}

/// The receiving end of a connection's queue, read by its connection task. A flume channel:
/// its buffer is allocated as frames arrive, where tokio's mpsc allocates 32 slots up front
/// for every connection, idle or not.
#[derive(Debug)]
pub struct Queue {
    rx: flume::Receiver<Arc<Frame>>,
    bytes: Budget,
}

impl Queue {
    /// Lets go of every frame queued and takes no more (a later `deliver` finds the
    /// connection gone): the writer does this once it is closing the socket, which can take
    /// a while for a peer that reads nothing, so frames are not pinned meanwhile.
    pub fn close(&mut self) {
        while self.try_recv().is_some() {}
        self.rx = flume::bounded(1).1;
    }

    /// The next frame; `None` once every sender is gone and the queue is empty.
    pub async fn recv(&mut self) -> Option<Arc<Frame>> {
        let item = self.rx.recv_async().await.ok()?;
        self.bytes.give_back(item.len());
        Some(item)
    }

    /// The next frame if one is waiting.
    pub fn try_recv(&mut self) -> Option<Arc<Frame>> {
        let item = self.rx.try_recv().ok()?;
        self.bytes.give_back(item.len());
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::{ClientHandle, Delivery, Frame};

    #[test]
    fn a_queue_overflows_on_bytes_before_frames() {
        let (client, mut queue, overflowed) = ClientHandle::channel(100, 1_000);
        let frame = || Frame::shared("x".repeat(400));
        assert_eq!(client.deliver(frame()), Delivery::Queued);
        assert_eq!(client.deliver(frame()), Delivery::Queued);
        assert!(!overflowed.is_cancelled());
        assert_eq!(client.deliver(frame()), Delivery::Overflowed, "1,200 bytes is over the 1,000 limit");
        assert!(overflowed.is_cancelled());
        // What the writer takes is given back.
        let (client, mut queue2, _) = ClientHandle::channel(100, 1_000);
        for _ in 0..10 {
            assert_eq!(client.deliver(frame()), Delivery::Queued);
            assert!(queue2.try_recv().is_some());
        }
        assert!(queue.try_recv().is_some());
    }

    #[test]
    fn one_frame_larger_than_the_limit_still_fits_an_empty_queue() {
        let (client, _queue, overflowed) = ClientHandle::channel(100, 10);
        assert_eq!(client.deliver(Frame::shared("y".repeat(50))), Delivery::Queued);
        assert_eq!(client.deliver(Frame::shared("z".into())), Delivery::Overflowed);
        assert!(overflowed.is_cancelled());
    }

    #[test]
    fn a_closed_queue_lets_go_of_its_frames_and_takes_no_more() {
        let (client, mut queue, _) = ClientHandle::channel(100, 1_000);
        let frame = Frame::shared("x".repeat(10));
        assert_eq!(client.deliver(std::sync::Arc::clone(&frame)), Delivery::Queued);
        queue.close();
        assert_eq!(std::sync::Arc::strong_count(&frame), 1, "the queued copy is gone");
        assert_eq!(client.deliver(frame), Delivery::Gone);
    }

    #[test]
    fn a_queue_within_a_parent_closes_with_it_and_alone_on_overflow() {
        let parent = tokio_util::sync::CancellationToken::new();
        let (client, _queue, closing) = ClientHandle::channel_within(1, 1_000, &parent);
        assert_eq!(client.deliver(Frame::shared("a".into())), Delivery::Queued);
        assert_eq!(client.deliver(Frame::shared("b".into())), Delivery::Overflowed);
        assert!(closing.is_cancelled() && !parent.is_cancelled(), "an overflow closes this client only");
        let (_client, _queue, closing) = ClientHandle::channel_within(1, 1_000, &parent);
        parent.cancel();
        assert!(closing.is_cancelled(), "shutdown closes every client");
    }

    #[test]
    fn replies_never_wait_or_overflow_but_a_full_queue_has_no_room() {
        let (client, mut queue, overflowed) = ClientHandle::channel(2, 1_000);
        assert!(client.has_room());
        client.reply(Frame::shared("a".into())).unwrap();
        client.reply(Frame::shared("b".into())).unwrap();
        assert!(!client.has_room(), "two frames is the queue's capacity");
        client.reply(Frame::shared("c".into())).unwrap();
        assert!(!overflowed.is_cancelled(), "a reply past the capacity is kept, not refused");
        assert_eq!(client.deliver(Frame::shared("d".into())), Delivery::Overflowed);
        assert!(overflowed.is_cancelled(), "a broadcast past the capacity closes the client");
        let taken: Vec<_> = std::iter::from_fn(|| queue.try_recv()).collect();
        assert_eq!(taken.len(), 3);
        assert!(client.has_room());
        let (client, _queue, _) = ClientHandle::channel(100, 10);
        client.reply(Frame::shared("x".repeat(10))).unwrap();
        assert!(!client.has_room(), "ten bytes is the queue's byte limit");
    }
}
