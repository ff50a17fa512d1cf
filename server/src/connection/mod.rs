//! One WebSocket connection, one task: it reads client frames into its [`Session`], drains
//! the connection's queue onto the socket (`write.rs`), pings on the shared [`Heartbeat`],
//! and owns every way the socket closes: shutdown (1001), a full queue (SLOW_CONSUMER), a
//! silent peer (HEARTBEAT_TIMEOUT), a peer breaking the WebSocket rules (1009, 1007, 1002).
//!
//! One task rather than a reader and a writer: an idle connection is one future, and a
//! delivery wakes one task. Handling a frame can wait on the hub or the database; that wait
//! is one of the loop's branches (the session moves into it and comes back), so queued
//! frames are still written meanwhile.

mod pending;
mod write;

use crate::frame::Frame;
use crate::gateway::Permit;
use crate::heartbeat::{Beat, Heartbeat};
use crate::queue::{ClientHandle, Queue};
use crate::session::{error, Reply, Session};
use crate::upgrade::Socket;
use crate::ws::WsState;
use app::protocol::{close, encode_server, ErrorCode, ServerMsg};
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use pending::Pending;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tungstenite::Message;

/// A close code and reason.
type Close = (u16, &'static str);

/// The connection's future. Everything it needs is built here, outside it, and moved into
/// one `Connection`: an async fn keeps each of its arguments for its whole life, so a value
/// passed down through several would be held several times over, by every idle connection.
pub fn run(socket: Socket, peer: SocketAddr, permit: Permit, state: WsState) -> impl Future<Output = ()> + Send {
    let (capacity, bytes) = (state.limits.queue_capacity, state.limits.queue_bytes);
    let (client, queue, closing) = ClientHandle::channel_within(capacity, bytes, &state.shutdown);
    let member = state.hub.connect(client.clone(), state.limits.max_rooms);
    let id = member.id();
    tracing::info!(id, %peer, "connected");
    let session = Session::new(member, &state.limits, state.people.clone(), permit.address());
    let mut connection = Connection {
        socket,
        queue,
        client,
        closing,
        heard: 0,
        id,
        session: Some(session),
        handling: None,
        pending: Pending::default(),
        ahead: None,
        state,
        _permit: permit,
    };
    async move {
        let ending = connection.serve().await;
        connection.finish(ending).await;
        tracing::info!(id, "disconnected");
    }
}

/// One socket, its queue and its session, read and written by one task.
struct Connection {
    socket: Socket,
    queue: Queue,
    /// The queue's sending side, for this connection's own replies.
    client: ClientHandle,
    /// Cancelled when the queue overflows, or by shutdown (its parent).
    closing: CancellationToken,
    /// Frames read from the peer: any frame after a ping proves it alive.
    heard: u64,
    id: u64,
    /// The session while no frame is being handled; a frame's future holds it meanwhile.
    session: Option<Session>,
    /// The frame being handled (its future holds the session).
    handling: Option<Handling>,
    pending: Pending,
    /// A frame read ahead of its turn (boxed: rare, and every idle connection would carry
    /// the room for it).
    ahead: Option<Box<Incoming>>,
    state: WsState,
    /// The gateway's slot, given back when the connection ends.
    _permit: Permit,
}

/// How serving a connection ended.
enum Ending {
    /// Send this close frame.
    Close(Close),
    /// The peer closed (or hung up).
    PeerDone,
    /// The socket failed or took nothing in time: nothing more can be sent.
    Broken,
}

/// A frame from the peer as the socket gives it: `None` once it hung up.
type Incoming = Option<Result<Message, tungstenite::Error>>;

/// What woke the connection's loop.
enum Event {
    /// Shutdown, or the queue overflowed.
    Closing,
    Tick,
    /// The frame being handled is done with (its session is back) and this is its reply.
    Handled(Reply),
    /// The oldest pending answer, if the frame had one.
    Answer(Option<ServerMsg>),
    Frame(Incoming),
    /// The frame read ahead of its turn.
    Ahead(Incoming),
    Queued(Option<Arc<Frame>>),
}

/// What the loop awaits once a select has picked its branch.
enum Wait {
    Nothing,
    Ping,
    /// A burst of queued frames, starting with this one.
    Write(Arc<Frame>),
}

/// The frame being handled: the session is moved into it and handed back with the answer.
type Handling = BoxFuture<'static, (Session, Reply)>;

/// Frames read ahead of their answers, at most. Past it the connection reads no more until
/// the hub answers, so a client that floods posts is held back rather than buffered.
const PIPELINE: usize = 16;

impl Connection {
    /// Serves the connection until it must close, and says how.
    async fn serve(&mut self) -> Ending {
        // Made once, not per wake-up: re-creating these futures on every loop cost about as
        // much as writing a frame (notifier registrations).
        let closing = self.closing.clone().cancelled_owned();
        let shutdown = self.state.shutdown.clone();
        let heartbeat: Heartbeat = self.state.heartbeat.clone();
        let tick = heartbeat.next_tick();
        tokio::pin!(closing, tick);
        let mut pulse = heartbeat.pulse();
        let hello = encode_server(&self.state.limits.hello(None));
        if self.client.reply(Frame::shared(hello)).is_err() {
            return Ending::Broken;
        }
        loop {
            let event = {
                let may_read = self.may_read();
                let (handling, pending, ahead) = (&mut self.handling, &mut self.pending, &mut self.ahead);
                let session = &mut self.session;
                tokio::select! {
                    biased;
                    _ = &mut closing => Event::Closing,
                    _ = &mut tick => Event::Tick,
                    reply = async {
                        let (handled, reply) = handling.as_mut().expect("guarded").await;
                        *session = Some(handled);
                        reply
                    }, if handling.is_some() => Event::Handled(reply),
                    // Before the queue is written: the acks one commit makes ready are all
                    // queued first, and go out in one burst with one flush, not a write each.
                    Some(answer) = pending.next() => Event::Answer(answer),
                    // A frame read ahead (see `read_ahead`) is handled before the next burst.
                    frame = async { *ahead.take().expect("guarded") }, if ahead.is_some() && may_read => {
                        Event::Ahead(frame)
                    }
                    item = self.queue.recv() => Event::Queued(item),
                    frame = self.socket.next(), if ahead.is_none() && may_read => Event::Frame(frame),
                }
            };
            let wait = match event {
                Event::Closing => return Ending::Close(why_closing(&shutdown)),
                Event::Tick => {
                    tick.set(heartbeat.next_tick());
                    // A frame waiting unread (the loop was writing, or holding reads back) is
                    // a sign of life as good as one already read.
                    if let Some(ending) = self.read_ahead() {
                        return ending;
                    }
                    match pulse.on_tick(self.heard) {
                        Beat::Nothing => Wait::Nothing,
                        Beat::Ping => Wait::Ping,
                        Beat::Dead => return Ending::Close((close::HEARTBEAT_TIMEOUT, "no answer to ping")),
                    }
                }
                Event::Handled(reply) => {
                    self.handling = None;
                    self.pending.push(match reply {
                        Reply::Now(answer) => Box::pin(std::future::ready(answer)),
                        Reply::Later(answer) => answer,
                    });
                    Wait::Nothing
                }
                Event::Answer(answer) => {
                    let queued = answer.map(|answer| self.client.reply(Frame::shared(encode_server(&answer))));
                    if let Some(Err(_)) = queued {
                        return Ending::Broken;
                    }
                    Wait::Nothing
                }
                Event::Frame(frame) => {
                    self.heard += 1;
                    if let Some(ending) = self.on_frame(frame) {
                        return ending;
                    }
                    Wait::Nothing
                }
                // Counted when it was read.
                Event::Ahead(frame) => {
                    if let Some(ending) = self.on_frame(frame) {
                        return ending;
                    }
                    Wait::Nothing
                }
                // Not while this connection holds a sender; ended all the same.
                Event::Queued(None) => return Ending::PeerDone,
                Event::Queued(Some(first)) => Wait::Write(first),
            };
            // Awaited here, not in the select: its futures are gone by now, so the
            // connection's future need not hold them and these at once.
            match wait {
                Wait::Nothing => {}
                Wait::Ping => {
                    if self.ping().await.is_err() {
                        return Ending::Broken;
                    }
                }
                Wait::Write(first) => {
                    let due = async {
                        (&mut closing).await;
                        why_closing(&shutdown)
                    };
                    match self.write_noticing(first, due).await {
                        write::Burst::Written(None) => {}
                        write::Burst::Written(Some(close)) => return Ending::Close(close),
                        write::Burst::Failed => return Ending::Broken,
                    }
                    // One frame in, for each burst out: a room busy enough to keep this
                    // queue from ever emptying does not keep the client from being heard.
                    if self.may_read() {
                        if let Some(ending) = self.read_ahead() {
                            return ending;
                        }
                    }
                }
            }
        }
    }

    /// Whether the next frame may be read: none is being handled, fewer than [`PIPELINE`]
    /// wait for their answers, and the queue has room for the answer.
    fn may_read(&self) -> bool {
        self.handling.is_none() && self.pending.len() < PIPELINE && self.client.has_room()
    }

    /// Reads a frame if one is there already (never waits). A post or other data frame is
    /// held in `ahead` (at most one) for the loop to handle in turn; anything else (a pong,
    /// the peer's close, a hang-up, a broken frame) is handled at once: `Some` when the
    /// connection must end.
    fn read_ahead(&mut self) -> Option<Ending> {
        if self.ahead.is_some() {
            return None;
        }
        let frame = self.socket.next().now_or_never()?;
        self.heard += 1;
        if matches!(frame, Some(Ok(Message::Text(_) | Message::Binary(_)))) {
            self.ahead = Some(Box::new(frame));
            return None;
        }
        self.on_frame(frame)
    }

    /// Handles one frame from the peer; `Some` when the connection must end.
    fn on_frame(&mut self, frame: Incoming) -> Option<Ending> {
        match frame {
            // Nothing can be written to a peer that closed: the hub answers (and stores) what
            // it sent before whether or not the answers are awaited.
            None | Some(Ok(Message::Close(_))) => return Some(Ending::PeerDone),
            Some(Ok(Message::Text(text))) => {
                let mut session = self.session.take().expect("no frame is being handled");
                // Boxed: handling a frame needs a large future (joins, hub round trips) that
                // an idle connection should not carry inline.
                self.handling = Some(Box::pin(async move {
                    let reply = session.handle_text(text.as_str()).await;
                    (session, reply)
                }));
            }
            Some(Ok(Message::Binary(_))) => self.pending.push(Box::pin(std::future::ready(Some(error(
                ErrorCode::BinaryNotSupported,
                "send JSON text frames; binary frames are not part of the protocol",
            ))))),
            // (tungstenite answers pings itself; it never reads a raw `Frame`.)
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
            Some(Err(e)) => {
                let Some(&close) = close_for(e) else { return Some(Ending::Broken) };
                let (id, code, reason) = (self.id, close.0, close.1);
                tracing::info!(id, code, reason, "closing a misbehaving peer");
                return Some(Ending::Close(close));
            }
        }
        None
    }
}

/// Why the connection's closing token was cancelled: shutdown if the server is stopping (it
/// wins over an overflow at the same time), else the queue overflowed.
fn why_closing(shutdown: &CancellationToken) -> Close {
    if shutdown.is_cancelled() {
        (close::GOING_AWAY, "server shutting down")
    } else {
        (close::SLOW_CONSUMER, "too slow: outgoing queue full")
    }
}

/// The close code for a peer that broke the WebSocket rules, if the socket can still say so.
fn close_for(e: tungstenite::Error) -> Option<&'static Close> {
    match e {
        tungstenite::Error::Capacity(_) => Some(&(close::TOO_BIG, "message too big")),
        tungstenite::Error::Utf8(_) => Some(&(close::INVALID_DATA, "text frame is not valid UTF-8")),
        tungstenite::Error::Protocol(_) => Some(&(close::PROTOCOL_ERROR, "protocol violation")),
        _ => None,
    }
}
