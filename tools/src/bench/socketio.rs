//! Just enough Engine.IO v4 / Socket.IO v5 (what socket.io 4.x and python-socketio 5.x speak)
//! over a WebSocket for the benchmarks: open, connect to the default namespace, emit events
//! with acks, read events and acks, answer the server's pings.
//!
//! Engine.IO packets are text frames whose first character is the type: `0` open, `2` ping,
//! `3` pong, `4` message. A Socket.IO packet rides inside a message: `0` connect, `2` event,
//! `3` ack, then an optional ack id, then a JSON array. So `421["join","r"]` is event
//! `join` with ack id 1, answered by `431[…]`.

use super::Failure;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The WebSocket URL of a Socket.IO server whose base URL is `base` (http://host:port).
pub fn ws_url(base: &str) -> String {
    format!("{}/socket.io/?EIO=4&transport=websocket", base.trim_end_matches('/').replacen("http", "ws", 1))
}

/// Completes the Engine.IO open and the Socket.IO connect on a fresh WebSocket.
pub async fn handshake<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Result<(), Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let open = next_text(ws).await?;
    if !open.starts_with('0') {
        return Err(format!("expected an Engine.IO open packet, got {open:?}").into());
    }
    ws.send(Message::text("40")).await?;
    loop {
        let text = next_text(ws).await?;
        if text.starts_with("40") {
            return Ok(());
        }
        if text.starts_with("44") {
            return Err(format!("the server refused the Socket.IO connect: {text}").into());
        }
    }
}

async fn next_text<S>(ws: &mut tokio_tungstenite::WebSocketStream<S>) -> Result<String, Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    loop {
        let frame =
            tokio::time::timeout(Duration::from_secs(10), ws.next()).await?.ok_or("closed during handshake")??;
        if let Message::Text(text) = frame {
            return Ok(text.to_string());
        }
    }
}

/// An event frame: `42` + optional ack id + `[name, data]`.
pub fn event(name: &str, data: &Value, ack: Option<u64>) -> String {
    let ack = ack.map(|id| id.to_string()).unwrap_or_default();
    format!("42{ack}{}", Value::Array(vec![Value::from(name), data.clone()]))
}

/// One Engine.IO text frame, understood.
#[derive(Debug, PartialEq)]
pub enum Packet {
    /// The server's heartbeat: answer with [`PONG`].
    Ping,
    Event {
        name: String,
        data: Value,
    },
    Ack {
        id: u64,
        data: Value,
    },
    Other,
}

pub const PONG: &str = "3";

pub fn parse(text: &str) -> Packet {
    if text == "2" {
        return Packet::Ping;
    }
    let (kind, rest) = match text.get(..2) {
        Some(kind @ ("42" | "43")) => (kind, &text[2..]),
        _ => return Packet::Other,
    };
    let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let id = rest[..digits].parse::<u64>().ok();
    let Ok(Value::Array(mut items)) = serde_json::from_str::<Value>(&rest[digits..]) else { return Packet::Other };
    match (kind, id) {
        ("43", Some(id)) => Packet::Ack { id, data: items.drain(..).next().unwrap_or(Value::Null) },
        ("42", _) if !items.is_empty() => {
            let mut items = items.into_iter();
            let name = items.next().and_then(|n| n.as_str().map(str::to_owned)).unwrap_or_default();
            Packet::Event { name, data: items.next().unwrap_or(Value::Null) }
        }
        _ => Packet::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_and_acks_round_trip_through_the_packet_format() {
        let frame = event("post", &json!({"room": "r", "seq": 3}), Some(7));
        assert_eq!(frame, r#"427["post",{"room":"r","seq":3}]"#);
        assert_eq!(
            parse(r#"42["post",{"room":"r","seq":3}]"#),
            Packet::Event { name: "post".into(), data: json!({"room": "r", "seq": 3}) }
        );
        assert_eq!(parse(r#"4312[{"seq":9}]"#), Packet::Ack { id: 12, data: json!({"seq": 9}) });
        assert_eq!(parse("2"), Packet::Ping);
        assert_eq!(parse("40{\"sid\":\"x\"}"), Packet::Other);
        assert_eq!(parse("42not json"), Packet::Other);
    }
}
