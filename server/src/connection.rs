//! One WebSocket connection: the reader feeds client frames to its [`Session`] and queues
//! the replies; the writer (`writer.rs`) drains the queue onto the socket.

use crate::queue::{ClientHandle, Outbound};
use crate::session::{error, Reply, Session};
use crate::writer::Writer;
use crate::ws::WsState;
use app::protocol::{close, encode_server, ErrorCode, ServerMsg};
use axum::extract::ws::{Message, WebSocket};
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use futures::stream::SplitStream;
use futures::StreamExt;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

pub async fn run(socket: WebSocket, peer: SocketAddr, address: IpAddr, state: WsState) {
    let (client, queue, overflowed) = ClientHandle::channel(state.limits.queue_capacity, state.limits.queue_bytes);
    let member = state.hub.connect(client, state.limits.max_rooms);
    let span = tracing::info_span!("conn", id = member.id(), %peer);
    async move {
        tracing::info!("connected");
        let (sink, stream) = socket.split();
        let writer_done = CancellationToken::new();
        let heard = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            sink,
            queue,
            overflowed,
            shutdown: state.shutdown.clone(),
            done: writer_done.clone(),
            heard: heard.clone(),
            ping_interval: state.limits.ping_interval,
            ping_timeout: state.limits.ping_timeout,
            metrics: state.metrics.clone(),
        };
        let writer = tokio::spawn(writer.run().in_current_span());
        let mut session = Session::new(member, &state.limits, state.people.clone(), address);
        if reply(&session, &state.limits.hello(None)).await {
            read_loop(&mut session, stream, &writer_done, &heard).await;
        }
        // The disconnect: the session's member leaves its rooms. The session also holds a
        // sender of the writer's queue: dropping it lets the writer end.
        drop(session);
        let _ = writer.await;
        tracing::info!("disconnected");
    }
    .instrument(span)
    .await
}

/// Answers not yet sent, in the order of the frames they answer: posts waiting for the hub
/// keep their place while later frames are read, so one client's posts can share a commit.
type Pending = FuturesOrdered<BoxFuture<'static, Option<ServerMsg>>>;

/// Frames read ahead of their answers, at most. Past it the reader waits for the hub, so a
/// client that floods posts is held back rather than buffered without bound.
const PIPELINE: usize = 16;

async fn read_loop(
    session: &mut Session,
    mut stream: SplitStream<WebSocket>,
    writer_done: &CancellationToken,
    heard: &AtomicU64,
) {
    let mut pending = Pending::new();
    loop {
        let frame = tokio::select! {
            _ = writer_done.cancelled() => return,
            Some(answer) = pending.next() => {
                if let Some(answer) = answer {
                    if !reply(session, &answer).await {
                        return;
                    }
                }
                continue;
            }
            frame = stream.next(), if pending.len() < PIPELINE => frame,
        };
        // Any frame proves the peer is alive: the writer stops waiting for a pong.
        heard.fetch_add(1, Ordering::Relaxed);
        let answer = match frame {
            None | Some(Ok(Message::Close(_))) => break,
            // Boxed: handling a frame needs a large future (joins, hub round trips) that an
            // idle connection should not carry inline for its whole life.
            Some(Ok(Message::Text(text))) => Box::pin(session.handle_text(text.as_str())).await,
            Some(Ok(Message::Binary(_))) => Reply::Now(Some(error(
                ErrorCode::BinaryNotSupported,
                "send JSON text frames; binary frames are not part of the protocol",
            ))),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Err(e)) => {
                if let Some(close) = close_for(e) {
                    tracing::info!(code = close.0, reason = close.1, "closing a misbehaving peer");
                    let _ = session.client().send(Outbound::Close(close)).await;
                }
                return;
            }
        };
        pending.push_back(match answer {
            Reply::Now(answer) => Box::pin(std::future::ready(answer)),
            Reply::Later(answer) => answer,
        });
    }
    // The peer is done sending: still acknowledge what it posted before it left.
    while let Some(answer) = pending.next().await {
        if let Some(answer) = answer {
            if !reply(session, &answer).await {
                return;
            }
        }
    }
}

/// Queues a reply for this client (waiting for room). False when the connection is gone.
async fn reply(session: &Session, msg: &ServerMsg) -> bool {
    session.client().send(Outbound::text(encode_server(msg))).await.is_ok()
}

/// The close code for a peer that broke the WebSocket rules, if the socket can still say so.
fn close_for(e: axum::Error) -> Option<&'static (u16, &'static str)> {
    match e.into_inner().downcast_ref::<tungstenite::Error>()? {
        tungstenite::Error::Capacity(_) => Some(&(close::TOO_BIG, "message too big")),
        tungstenite::Error::Utf8(_) => Some(&(close::INVALID_DATA, "text frame is not valid UTF-8")),
        tungstenite::Error::Protocol(_) => Some(&(close::PROTOCOL_ERROR, "protocol violation")),
        _ => None,
    }
}
