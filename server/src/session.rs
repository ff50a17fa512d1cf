//! One client's protocol state, whatever carries it (WebSocket, SSE + POST, long polling):
//! rooms joined, rate limit, typing throttle. Decodes a client frame and produces the
//! reply, if any; broadcasts reach the client through its queue.

use crate::hub::{ConnId, History, Hub, HubError};
use crate::queue::ClientHandle;
use app::domain::{ClientId, PostText, RoomName, Username};
use app::protocol::{decode_client, ClientMsg, ErrorCode, ServerMsg, PROTOCOL_VERSION, TYPING_RELAY_MIN_MS};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

const TYPING_RELAY_MIN: Duration = Duration::from_millis(TYPING_RELAY_MIN_MS);

/// Joins one connection may make per second, sustained: each reads history, so joins are
/// held well below the message rate. The burst lets a client join its rooms at once.
const JOINS_PER_SEC: NonZeroU32 = NonZeroU32::new(2).unwrap();
const JOIN_BURST: NonZeroU32 = NonZeroU32::new(16).unwrap();

/// Per-connection limits (see `wallsocket --help`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub queue_capacity: usize,
    pub rate_per_sec: NonZeroU32,
    pub rate_burst: NonZeroU32,
    /// How often the server pings a WebSocket peer.
    pub ping_interval: Duration,
    /// How long after a ping the peer has to show a sign of life before it is closed.
    pub ping_timeout: Duration,
    /// Bytes queued for one client before it is closed as too slow.
    pub queue_bytes: usize,
    /// Rooms one connection may be in at once.
    pub max_rooms: usize,
}

impl Limits {
    /// The first message of every connection; HTTP transports name their session in it.
    pub fn hello(&self, session: Option<String>) -> ServerMsg {
        ServerMsg::Hello { protocol: PROTOCOL_VERSION, max_message_bytes: self.max_message_bytes as u32, session }
    }
}

pub struct Session {
    id: ConnId,
    hub: Hub,
    client: ClientHandle,
    /// Rooms joined, with the name each was joined under.
    joined: HashMap<RoomName, Username>,
    /// When this client's last `typing` was relayed, per room.
    last_typing: HashMap<RoomName, Instant>,
    limiter: DefaultDirectRateLimiter,
    rate_per_sec: NonZeroU32,
    joins: DefaultDirectRateLimiter,
    max_rooms: usize,
}

impl Session {
    pub fn new(id: ConnId, hub: Hub, client: ClientHandle, limits: &Limits) -> Self {
        let limiter = RateLimiter::direct(Quota::per_second(limits.rate_per_sec).allow_burst(limits.rate_burst));
        Self {
            id,
            hub,
            client,
            joined: HashMap::new(),
            last_typing: HashMap::new(),
            limiter,
            rate_per_sec: limits.rate_per_sec,
            joins: RateLimiter::direct(Quota::per_second(JOINS_PER_SEC).allow_burst(JOIN_BURST)),
            max_rooms: limits.max_rooms,
        }
    }

    pub fn client(&self) -> &ClientHandle {
        &self.client
    }

    /// Answers one client frame: `None` when the answer (if any) arrives through the queue.
    /// A post's answer (its ack) comes once the hub has stored it: await it with
    /// [`Reply::resolve`], or keep reading and let it finish later (the WebSocket pipelines).
    pub async fn handle_text(&mut self, text: &str) -> Reply {
        if self.limiter.check().is_err() {
            let limit = self.rate_per_sec;
            let message = format!("too many messages: at most {limit} per second; this one was not processed");
            let client_id = decode_client(text).ok().and_then(|m| match m {
                ClientMsg::Post { client_id, .. } => Some(client_id),
                _ => None,
            });
            return Reply::Now(Some(ServerMsg::Error { code: ErrorCode::RateLimited, message, client_id }));
        }
        match decode_client(text) {
            Err(e) => Reply::Now(Some(e.into_msg())),
            Ok(ClientMsg::Post { room, text, client_id }) => self.post(room, text, client_id).await,
            Ok(ClientMsg::Join { room, username, since }) => self.join(room, username, since).await,
            Ok(msg) => Reply::Now(self.handle(msg).await),
        }
    }

    /// Hands the post to the hub, in order with this client's other messages; the ack (or
    /// error) is ready once the post is stored.
    async fn post(&mut self, room: RoomName, text: PostText, client_id: ClientId) -> Reply {
        let Some(username) = self.joined.get(&room).cloned() else {
            return Reply::Now(Some(ServerMsg::Error {
                code: ErrorCode::NotJoined,
                message: format!("join room {room:?} before posting to it"),
                client_id: Some(client_id),
            }));
        };
        let stored = self.hub.submit_post(room.clone(), username, client_id.clone(), text).await;
        Reply::Later(Box::pin(async move {
            let stored = match stored {
                Ok(stored) => stored.into_result().await,
                Err(e) => Err(e),
            };
            Some(match stored {
                Ok(post) => ServerMsg::Ack { room, client_id, seq: post.seq },
                Err(e) => {
                    tracing::error!(error = %e, "post failed");
                    ServerMsg::Error {
                        code: ErrorCode::Internal,
                        message: "the post could not be stored; retry it".into(),
                        client_id: Some(client_id),
                    }
                }
            })
        }))
    }

    /// Joins (or renames in) a room: registered with the hub now, in order with this
    /// client's other messages; `joined` follows once the history is read, which happens
    /// while the reader goes on reading.
    async fn join(&mut self, room: RoomName, username: Username, since: Option<u64>) -> Reply {
        tracing::debug!(%room, "join");
        // Already in the room: it has every post since it joined, so a rename replays
        // nothing; a re-join with `since` is a client repairing a gap it saw, and replays
        // like any join (counted by the join limit).
        let history = match (self.joined.insert(room.clone(), username.clone()), since) {
            (_, Some(since)) => History::Since(since),
            (Some(_), None) => History::None,
            (None, None) => History::Latest,
        };
        if history != History::None && self.joined.len() > self.max_rooms {
            self.joined.remove(&room);
            let max = self.max_rooms;
            let message = format!("a connection may be in at most {max} rooms at once: leave one first");
            return Reply::Now(Some(error(ErrorCode::TooManyRooms, &message)));
        }
        if history != History::None && self.joins.check().is_err() {
            self.joined.remove(&room);
            let message = format!("too many joins: at most {JOINS_PER_SEC} per second; join again shortly");
            return Reply::Now(Some(error(ErrorCode::RateLimited, &message)));
        }
        let pending = match self.hub.register(self.id, room.clone(), username, history, self.client.clone()).await {
            Ok(pending) => pending,
            Err(e) => {
                self.joined.remove(&room);
                return Reply::Now(Some(join_failed(e)));
            }
        };
        Reply::Later(Box::pin(async move { pending.complete().await.err().map(join_failed) }))
    }

    pub async fn handle(&mut self, msg: ClientMsg) -> Option<ServerMsg> {
        let hub = self.hub.clone();
        match msg {
            ClientMsg::Join { room, username, since } => self.join(room, username, since).await.resolve().await,
            // Posts go through `post`: their answer may come later.
            ClientMsg::Post { room, text, client_id } => self.post(room, text, client_id).await.resolve().await,
            ClientMsg::Leave { room } => {
                if self.joined.remove(&room).is_none() {
                    return Some(error(ErrorCode::NotJoined, &format!("not in room {room:?}")));
                }
                self.last_typing.remove(&room);
                let _ = hub.leave(self.id, room.clone()).await;
                Some(ServerMsg::Left { room })
            }
            ClientMsg::Ping => Some(ServerMsg::Pong),
            ClientMsg::Typing { room } => {
                if !self.joined.contains_key(&room) {
                    return Some(error(ErrorCode::NotJoined, &format!("not in room {room:?}")));
                }
                // Relay at most one per TYPING_RELAY_MIN_MS: more would only repeat what the
                // others already show.
                let now = Instant::now();
                let recent = self.last_typing.get(&room).is_some_and(|t| now.duration_since(*t) < TYPING_RELAY_MIN);
                if !recent {
                    self.last_typing.insert(room.clone(), now);
                    let _ = hub.typing(self.id, room).await;
                }
                None
            }
        }
    }

    /// Leaves every room.
    pub async fn end(&mut self) {
        let rooms = self.joined.drain().map(|(room, _)| room).collect();
        let _ = self.hub.disconnect(self.id, rooms).await;
    }
}

/// The answer to one client frame.
pub enum Reply {
    Now(Option<ServerMsg>),
    /// Ready once the hub is done: a post's ack or error; a join's error, if any (its
    /// `joined` arrives through the queue).
    Later(futures::future::BoxFuture<'static, Option<ServerMsg>>),
}

impl Reply {
    pub async fn resolve(self) -> Option<ServerMsg> {
        match self {
            Reply::Now(answer) => answer,
            Reply::Later(answer) => answer.await,
        }
    }
}

fn join_failed(e: HubError) -> ServerMsg {
    tracing::error!(error = %e, "join failed");
    error(ErrorCode::Internal, "could not join the room; try again")
}

pub fn error(code: ErrorCode, message: &str) -> ServerMsg {
    ServerMsg::Error { code, message: message.to_owned(), client_id: None }
}
