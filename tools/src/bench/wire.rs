//! What the benchmarks say and hear on each protocol: wallsocket's own on `/ws`, and
//! Socket.IO on the peers. Joining, the post frame, and reading a frame cheaply (a
//! subscriber must keep up with the server, so it borrows only the fields it needs).

use super::socketio;
use super::Failure;
use app::protocol::{ClientMsg, ServerMsg};
use futures::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::json;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// What the server under test speaks.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    /// wallsocket's own protocol on /ws (docs/PROTOCOL.md).
    Wallsocket,
    /// Socket.IO v5 over Engine.IO v4 on /socket.io/ (the peers in tools/peers/).
    Socketio,
}

pub type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// This process's mark on the names it joins under, and a count of them: names are claimed
/// by their first use, so no two joins of the benchmarks (in one run, as `compare` makes
/// several against one server, or in runs against one database) may share one.
static RUN: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| uuid::Uuid::new_v4().simple().to_string()[..6].to_owned());
static JOINS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `name`, made unique (`pub3` → `pub3-1f0c9a-17`).
pub fn run_name(name: &str) -> String {
    let n = JOINS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{name}-{}-{n}", *RUN)
}

/// A wallsocket connection that has joined `room` as `name` (marked as this run's).
pub async fn joined(url: &str, room: &str, name: String) -> Result<Socket, Failure> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    let username = Some(run_name(&name).parse()?);
    let join = ClientMsg::Join { room: room.parse()?, username, since: None, claim: None, from: None };
    ws.send(Message::text(serde_json::to_string(&join)?)).await?;
    loop {
        let frame =
            tokio::time::timeout(Duration::from_secs(10), ws.next()).await?.ok_or("closed before joining")??;
        match serde_json::from_str(frame.to_text().unwrap_or_default()) {
            Ok(ServerMsg::Joined { .. }) => return Ok(ws),
            Ok(ServerMsg::Error { code, message, .. }) => {
                return Err(format!("join refused ({code:?}): {message}").into())
            }
            _ => {}
        }
    }
}

/// A connection of either protocol that has joined `room`.
pub async fn join(protocol: Protocol, base: &str, room: &str, name: String) -> Result<Socket, Failure> {
    match protocol {
        Protocol::Wallsocket => {
            joined(&format!("{}/ws", base.trim_end_matches('/').replacen("http", "ws", 1)), room, name).await
        }
        Protocol::Socketio => {
            let (mut ws, _) = tokio_tungstenite::connect_async(socketio::ws_url(base)).await?;
            socketio::handshake(&mut ws).await?;
            ws.send(Message::text(socketio::event("join", &json!(room), Some(0)))).await?;
            loop {
                let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
                    .await?
                    .ok_or("closed before joining")??;
                if let socketio::Packet::Ack { id: 0, .. } = socketio::parse(frame.to_text().unwrap_or_default()) {
                    return Ok(ws);
                }
            }
        }
    }
}

/// The frame that posts `text` as post number `n` of publisher `id`.
pub fn post_frame(protocol: Protocol, room: &str, text: String, id: u32, n: u64) -> Result<String, Failure> {
    Ok(match protocol {
        Protocol::Wallsocket => serde_json::to_string(&ClientMsg::Post {
            room: room.parse()?,
            text: text.parse()?,
            client_id: format!("f{id}-{n}").parse()?,
        })?,
        Protocol::Socketio => {
            socketio::event("post", &json!({"room": room, "text": text, "username": format!("pub{id}")}), Some(n))
        }
    })
}

/// What a received frame means to the benchmark.
pub enum Heard {
    /// A post: its seq, and the send time the publisher wrote at the start of its text.
    Post {
        seq: u64,
        sent_micros: Option<u64>,
    },
    Ack,
    Refused(String),
    /// A Socket.IO heartbeat, to answer.
    Ping,
    Other,
}

/// Only the fields the benchmark needs, borrowed: subscribers must keep up with the server.
#[derive(serde::Deserialize)]
struct Light<'a> {
    #[serde(rename = "type", borrow)]
    kind: &'a str,
    seq: Option<u64>,
    #[serde(borrow)]
    text: Option<std::borrow::Cow<'a, str>>,
    message: Option<String>,
}

fn sent_micros(text: &str) -> Option<u64> {
    text.split_whitespace().next().and_then(|t| t.parse().ok())
}

pub fn hear(protocol: Protocol, frame: &str) -> Heard {
    match protocol {
        Protocol::Wallsocket => match serde_json::from_str::<Light>(frame) {
            Ok(Light { kind: "post", seq: Some(seq), text, .. }) => {
                Heard::Post { seq, sent_micros: text.as_deref().and_then(sent_micros) }
            }
            Ok(Light { kind: "ack", .. }) => Heard::Ack,
            Ok(Light { kind: "error", message, .. }) => Heard::Refused(message.unwrap_or_default()),
            _ => Heard::Other,
        },
        Protocol::Socketio => match socketio::parse(frame) {
            socketio::Packet::Ping => Heard::Ping,
            socketio::Packet::Ack { .. } => Heard::Ack,
            socketio::Packet::Event { name, data } if name == "post" => match data["seq"].as_u64() {
                Some(seq) => Heard::Post { seq, sent_micros: data["text"].as_str().and_then(sent_micros) },
                None => Heard::Other,
            },
            _ => Heard::Other,
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_join_of_a_run_gets_a_name_of_its_own() {
        // `compare` joins `pub0` for the fan-out and again for the ingest, on one server.
        let (first, second) = (super::run_name("pub0"), super::run_name("pub0"));
        assert_ne!(first, second);
        assert!(first.starts_with("pub0-") && first.len() <= app::domain::USERNAME_MAX_CHARS);
    }
}
