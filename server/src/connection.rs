//! One WebSocket connection: a reader that decodes and answers client messages, and a
//! writer (`writer.rs`) that drains the connection's bounded queue onto the socket.

use crate::hub::ConnId;
use crate::queue::{ClientHandle, Outbound};
use crate::ws::WsState;
use app::domain::{RoomName, Username};
use app::protocol::{close, decode_client, encode_server, ClientMsg, ErrorCode, ServerMsg, PROTOCOL_VERSION, TYPING_RELAY_MIN_MS};
use axum::extract::ws::{Message, WebSocket};
use crate::writer::Writer;
use futures::stream::SplitStream;
use futures::StreamExt;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

const TYPING_RELAY_MIN: Duration = Duration::from_millis(TYPING_RELAY_MIN_MS);

/// Per-connection limits (see `wallsocket --help`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub queue_capacity: usize,
    pub rate_per_sec: NonZeroU32,
    pub rate_burst: NonZeroU32,
    /// How often the server pings an idle-or-not peer.
    pub ping_interval: Duration,
    /// How long after a ping the peer has to show a sign of life before it is closed.
    pub ping_timeout: Duration,
}

pub async fn run(socket: WebSocket, id: ConnId, peer: SocketAddr, state: WsState) {
    let span = tracing::info_span!("conn", id, %peer);
    async move {
        tracing::info!("connected");
        let (sink, stream) = socket.split();
        let (client, queue, overflowed) = ClientHandle::channel(state.limits.queue_capacity);
        let writer_done = CancellationToken::new();
        let (heard, heard_rx) = watch::channel(());
        let writer = Writer {
            sink,
            queue,
            overflowed,
            shutdown: state.shutdown.clone(),
            done: writer_done.clone(),
            heard: heard_rx,
            ping_interval: state.limits.ping_interval,
            ping_timeout: state.limits.ping_timeout,
        };
        let writer = tokio::spawn(writer.run().in_current_span());
        let hello = ServerMsg::Hello { protocol: PROTOCOL_VERSION, max_message_bytes: state.limits.max_message_bytes as u32 };
        let mut reader = Reader { id, state: state.clone(), client, joined: HashMap::new(), last_typing: HashMap::new(), limiter: limiter(&state.limits) };
        if reader.reply(&hello).await {
            reader.read_loop(stream, &writer_done, &heard).await;
        }
        let Reader { client, .. } = reader;
        let _ = state.hub.disconnect(id).await;
        drop(client);
        let _ = writer.await;
        tracing::info!("disconnected");
    }
    .instrument(span)
    .await
}

fn limiter(limits: &Limits) -> DefaultDirectRateLimiter {
    RateLimiter::direct(Quota::per_second(limits.rate_per_sec).allow_burst(limits.rate_burst))
}

struct Reader {
    id: ConnId,
    state: WsState,
    client: ClientHandle,
    /// Rooms this connection joined, with the name it joined under.
    joined: HashMap<RoomName, Username>,
    /// When this connection's last `typing` was relayed, per room.
    last_typing: HashMap<RoomName, Instant>,
    limiter: DefaultDirectRateLimiter,
}

impl Reader {
    async fn read_loop(&mut self, mut stream: SplitStream<WebSocket>, writer_done: &CancellationToken, heard: &watch::Sender<()>) {
        loop {
            let frame = tokio::select! {
                _ = writer_done.cancelled() => return,
                frame = stream.next() => frame,
            };
            // Any frame proves the peer is alive: the writer stops waiting for a pong.
            heard.send_replace(());
            match frame {
                None | Some(Ok(Message::Close(_))) => return,
                Some(Ok(Message::Text(text))) => {
                    if !self.handle_text(text.as_str()).await {
                        return;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let msg = error(ErrorCode::BinaryNotSupported, "send JSON text frames; binary frames are not part of the protocol");
                    if !self.reply(&msg).await {
                        return;
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Err(e)) => {
                    if is_too_big(e) {
                        tracing::info!(code = close::TOO_BIG, "message over the size limit");
                        let _ = self.client.send(Outbound::Close(close::TOO_BIG, "message too big")).await;
                    }
                    return;
                }
            }
        }
    }

    /// Answers one text frame. False when the connection is gone.
    async fn handle_text(&mut self, text: &str) -> bool {
        if self.limiter.check().is_err() {
            let limit = self.state.limits.rate_per_sec;
            let message = format!("too many messages: at most {limit} per second; this one was not processed");
            let client_id = decode_client(text).ok().and_then(|m| match m {
                ClientMsg::Post { client_id, .. } => Some(client_id),
                _ => None,
            });
            return self.reply(&ServerMsg::Error { code: ErrorCode::RateLimited, message, client_id }).await;
        }
        let reply = match decode_client(text) {
            Err(e) => Some(e.into_msg()),
            Ok(msg) => self.handle(msg).await,
        };
        match reply {
            Some(reply) => self.reply(&reply).await,
            None => true,
        }
    }

    async fn handle(&mut self, msg: ClientMsg) -> Option<ServerMsg> {
        let hub = self.state.hub.clone();
        match msg {
            ClientMsg::Join { room, username, since } => {
                tracing::debug!(%room, "join");
                self.joined.insert(room.clone(), username.clone());
                match hub.join(self.id, room.clone(), username, since, self.client.clone()).await {
                    Ok(()) => None,
                    Err(e) => {
                        self.joined.remove(&room);
                        tracing::error!(error = %e, "join failed");
                        Some(error(ErrorCode::Internal, "could not join the room; try again"))
                    }
                }
            }
            ClientMsg::Post { room, text, client_id } => {
                let Some(username) = self.joined.get(&room).cloned() else {
                    return Some(ServerMsg::Error { code: ErrorCode::NotJoined, message: format!("join room {room:?} before posting to it"), client_id: Some(client_id) });
                };
                match hub.post(room.clone(), username, client_id.clone(), text).await {
                    Ok(post) => Some(ServerMsg::Ack { room, client_id, seq: post.seq }),
                    Err(e) => {
                        tracing::error!(error = %e, "post failed");
                        Some(ServerMsg::Error { code: ErrorCode::Internal, message: "the post could not be stored; retry it".into(), client_id: Some(client_id) })
                    }
                }
            }
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

    /// Queues a reply for this client (waiting for room). False when the connection is gone.
    async fn reply(&self, msg: &ServerMsg) -> bool {
        self.client.send(Outbound::Text(encode_server(msg).into())).await.is_ok()
    }
}

fn error(code: ErrorCode, message: &str) -> ServerMsg {
    ServerMsg::Error { code, message: message.to_owned(), client_id: None }
}

/// True when the socket failed because a frame or message exceeded the size limit.
fn is_too_big(e: axum::Error) -> bool {
    matches!(e.into_inner().downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_)))
}
