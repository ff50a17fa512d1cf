//! Bad input: typed errors that keep the socket open, size limit, Origin, rate limit.

use crate::helpers::{post_msg, spawn_app, spawn_app_with};
use app::protocol::{close, ErrorCode, ServerMsg};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::{self, Message};

fn code(msg: ServerMsg) -> ErrorCode {
    match msg {
        ServerMsg::Error { code, .. } => code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_input_gets_a_typed_error_and_the_socket_keeps_working() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    client.send_text("{this is not json").await;
    assert_eq!(code(client.recv().await), ErrorCode::MalformedJson);
    client.send_text(r#"{"type":"dance","room":"lobby"}"#).await;
    assert_eq!(code(client.recv().await), ErrorCode::UnknownType);
    client.send_text(r#"{"type":"join","room":"Not A Slug","username":"al"}"#).await;
    assert_eq!(code(client.recv().await), ErrorCode::InvalidRoom);
    client.send_text(r#"{"type":"join","username":"al"}"#).await;
    assert_eq!(code(client.recv().await), ErrorCode::InvalidMessage);
    client.send_raw(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(code(client.recv().await), ErrorCode::BinaryNotSupported);

    client.send(&post_msg("lobby", "too early", "early-1")).await;
    match client.recv().await {
        ServerMsg::Error { code: ErrorCode::NotJoined, client_id: Some(id), .. } => assert_eq!(id.as_str(), "early-1"),
        other => panic!("expected not_joined for early-1, got {other:?}"),
    }
    client.send_text(r#"{"type":"post","room":"lobby","text":"   ","client_id":"blank-1"}"#).await;
    match client.recv().await {
        ServerMsg::Error { code: ErrorCode::InvalidText, client_id: Some(id), .. } => {
            assert_eq!(id.as_str(), "blank-1")
        }
        other => panic!("expected invalid_text for blank-1, got {other:?}"),
    }

    // After all that, the same socket still joins and posts.
    client.join("lobby", "alice", None).await;
    assert_eq!(client.post("lobby", "still here", "ok-1").await, 1);
}

#[tokio::test]
async fn a_one_mebibyte_frame_closes_with_1009() {
    let app = spawn_app().await;
    let mut client = app.client().await;
    let huge = format!(r#"{{"type":"post","room":"lobby","text":"{}","client_id":"big"}}"#, "x".repeat(1 << 20));
    // The server may close while the frame is still being written; either way it must say 1009.
    let _ = client.send_raw(Message::text(huge)).await;
    assert_eq!(client.recv_close().await, Some(close::TOO_BIG));
    // The server is unharmed.
    app.client().await.join("lobby", "alice", None).await;
}

#[tokio::test]
async fn a_foreign_origin_gets_403_and_the_own_origin_is_upgraded() {
    let app = spawn_app().await;
    match app.connect(Some("https://evil.example")).await {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 403),
        other => panic!("expected 403, got {:?}", other.map(|_| "an open socket")),
    }
    let own = format!("http://127.0.0.1:{}", app.port);
    assert!(app.connect(Some(&own)).await.is_ok());
}

#[tokio::test]
async fn an_allowed_origin_can_be_configured() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir, &["--allowed-origins", "https://friend.example"]).await;
    assert!(app.connect(Some("https://friend.example")).await.is_ok());
    assert!(app.connect(Some("https://evil.example")).await.is_err());
}

#[tokio::test]
async fn a_flood_is_rate_limited_with_the_limit_in_the_message() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let app = spawn_app_with(dir, &["--rate-per-sec", "5", "--rate-burst", "5"]).await;
    let mut client = app.client().await;
    for _ in 0..10 {
        client.send_text(r#"{"type":"leave","room":"lobby"}"#).await;
    }
    let mut limited = 0;
    for _ in 0..10 {
        if let ServerMsg::Error { code: ErrorCode::RateLimited, message, .. } = client.recv().await {
            assert!(message.contains("5 per second"), "{message}");
            limited += 1;
        }
    }
    assert!(limited >= 4, "expected most of the excess to be refused, got {limited}");
    // The limit is per connection: someone else posts as usual meanwhile.
    let mut other = app.client().await;
    other.join("lobby", "other", None).await;
    assert_eq!(other.post("lobby", "unaffected by the flood", "o-1").await, 1);
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_1001() {
    let app = spawn_app().await;
    let mut a = app.client().await;
    let mut b = app.client().await;
    a.join("lobby", "alice", None).await;
    let stop = app.stop_token();
    let server = tokio::spawn(app.stop());
    assert_eq!(a.recv_close().await, Some(close::GOING_AWAY));
    assert_eq!(b.recv_close().await, Some(close::GOING_AWAY));
    stop.cancel();
    server.await.unwrap();
}
