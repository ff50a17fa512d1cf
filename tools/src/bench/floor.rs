//! `wallsocket-tools bench floor-server`: the floor `bench compare` measures wallsocket against.
//! A bare axum broadcast that speaks just enough of wallsocket's protocol for the load
//! generators (`hello`, `join` → `joined`, `post` → `ack` and a `post` to the room): nothing
//! stored, nothing validated, each post's frame encoded once and shared, written with a feed
//! per queued frame and one flush, on sockets with the same buffer sizes and `TCP_NODELAY`.
//! What the same stack costs with nothing on top.

use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use axum::serve::ListenerExt;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// Frames a room keeps for a slow member before it counts as too slow and is closed.
const ROOM_BACKLOG: usize = 4096;
const HELLO: &str = r#"{"type":"hello","protocol":3,"max_message_bytes":65536}"#;

#[derive(clap::Args, Debug, Clone)]
pub struct FloorArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3100")]
    pub listen: SocketAddr,
}

/// Each room's broadcast and its last seq.
type Rooms = Arc<Mutex<HashMap<String, (broadcast::Sender<Utf8Bytes>, u64)>>>;

/// The fields of a client message the floor reads, and nothing else.
#[derive(serde::Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    room: Option<String>,
    username: Option<String>,
    client_id: Option<String>,
    text: Option<String>,
}

pub async fn run(args: &FloorArgs) -> std::process::ExitCode {
    let router = axum::Router::new().route("/ws", axum::routing::get(upgrade)).with_state(Rooms::default());
    // TCP_NODELAY, as wallsocket's server sets it: the two differ only in what is on top.
    let served = async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, router).await
    };
    match served.await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wallsocket-tools bench floor-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn upgrade(State(rooms): State<Rooms>, upgrade: WebSocketUpgrade) -> Response {
    // The buffer sizes wallsocket's server uses, so the two differ only in what is on top.
    let upgrade = upgrade.read_buffer_size(1024).write_buffer_size(16 * 1024);
    upgrade.on_upgrade(move |socket| connection(socket, rooms))
}

/// One task per connection: what it reads, and what its room broadcasts.
async fn connection(socket: WebSocket, rooms: Rooms) {
    let (mut tx, mut rx) = socket.split();
    if tx.send(Message::text(HELLO)).await.is_err() {
        return;
    }
    let mut username = String::new();
    let mut room: Option<broadcast::Receiver<Utf8Bytes>> = None;
    loop {
        let reply = tokio::select! {
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<Incoming>(text.as_str()) {
                    Ok(msg) => answer(&rooms, msg, &mut username, &mut room),
                    Err(_) => None,
                },
                Some(Ok(_)) => None,
                _ => return,
            },
            frame = next_frame(&mut room) => match frame {
                Ok(frame) => {
                    // Every frame already queued goes out with one flush.
                    let mut fed = tx.feed(Message::Text(frame)).await.is_ok();
                    while fed {
                        match room.as_mut().map(|r| r.try_recv()) {
                            Some(Ok(more)) => fed = tx.feed(Message::Text(more)).await.is_ok(),
                            Some(Err(broadcast::error::TryRecvError::Lagged(_))) => return,
                            _ => break,
                        }
                    }
                    if !fed || tx.flush().await.is_err() {
                        return;
                    }
                    None
                }
                // Too slow (or the room is gone): closed, like a slow consumer.
                Err(_) => return,
            },
        };
        if let Some(reply) = reply {
            if tx.send(Message::text(reply)).await.is_err() {
                return;
            }
        }
    }
}

/// The direct reply to a message, after doing what it asks.
fn answer(
    rooms: &Rooms,
    msg: Incoming,
    username: &mut String,
    room: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Option<String> {
    let name = msg.room?;
    let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
    let (sender, seq) = rooms.entry(name.clone()).or_insert_with(|| (broadcast::channel(ROOM_BACKLOG).0, 0));
    match msg.kind.as_str() {
        "join" => {
            *username = msg.username.unwrap_or_default();
            *room = Some(sender.subscribe());
            let joined = json!({"type": "joined", "room": name, "history": [], "members": sender.receiver_count(),
                "present": [], "watching": 0, "truncated": false});
            Some(joined.to_string())
        }
        "post" => {
            *seq += 1;
            let (client_id, text) = (msg.client_id.unwrap_or_default(), msg.text.unwrap_or_default());
            let post = json!({"type": "post", "room": name, "seq": *seq, "client_id": client_id,
                "username": username, "text": text, "ts": 0});
            let _ = sender.send(Utf8Bytes::from(post.to_string()));
            Some(json!({"type": "ack", "room": name, "client_id": client_id, "seq": *seq}).to_string())
        }
        _ => None,
    }
}

/// The room's next frame; never, before a join.
async fn next_frame(
    room: &mut Option<broadcast::Receiver<Utf8Bytes>>,
) -> Result<Utf8Bytes, broadcast::error::RecvError> {
    match room {
        Some(room) => room.recv().await,
        None => std::future::pending().await,
    }
}
