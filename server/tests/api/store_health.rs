//! `/health` tells the truth about storage: 503, with the reason in JSON, while the store
//! cannot commit; 200 again once a commit succeeds.

use crate::helpers::{post_msg, spawn_app, TestApp};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use futures::{SinkExt, StreamExt};
use sqlx::Connection;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// `/health`'s status and JSON body.
async fn health(app: &TestApp) -> (u16, serde_json::Value) {
    let response = reqwest::get(app.http_url("/health")).await.expect("/health answers");
    let status = response.status().as_u16();
    let body = response.text().await.expect("a body");
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("/health's body is not JSON ({e}): {body:?}"));
    (status, json)
}

/// The next message that is not presence, typing or a ping, waiting up to `within`: a commit
/// held up by a lock takes the store's busy timeout (5 s) to fail, longer than the helpers'
/// receive timeout.
async fn next_answer(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
    within: Duration,
    test: &str,
) -> ServerMsg {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame = tokio::time::timeout_at(deadline, ws.next())
            .await
            .unwrap_or_else(|_| panic!("{test}: no answer within {within:?}"));
        match frame {
            Some(Ok(Message::Text(text))) => {
                let msg: ServerMsg = serde_json::from_str(&text).expect("a ServerMsg");
                if !crate::helpers::is_presence(&msg) {
                    return msg;
                }
            }
            Some(Ok(_)) => continue,
            other => panic!("{test}: connection ended: {other:?}"),
        }
    }
}

#[tokio::test]
async fn health_is_503_with_the_reason_while_the_database_cannot_commit() {
    const TEST: &str = "health_is_503_with_the_reason_while_the_database_cannot_commit";
    let app = spawn_app().await;
    let (status, body) = health(&app).await;
    assert_eq!((status, body.clone()), (200, serde_json::json!({ "status": "ok" })), "{TEST}: healthy at start");

    let (mut ws, _) = tokio_tungstenite::connect_async(app.ws_url()).await.expect("upgrade");
    let hello = next_answer(&mut ws, Duration::from_secs(5), TEST).await;
    assert!(matches!(hello, ServerMsg::Hello { .. }), "{TEST}: {hello:?}");
    let join = ClientMsg::Join {
        room: "lobby".parse().unwrap(),
        username: Some("alice".parse().unwrap()),
        since: None,
        claim: None,
        from: None,
    };
    ws.send(Message::text(serde_json::to_string(&join).unwrap())).await.unwrap();
    let joined = next_answer(&mut ws, Duration::from_secs(5), TEST).await;
    assert!(matches!(joined, ServerMsg::Joined { .. }), "{TEST}: {joined:?}");

    // Another process holds the database's write lock (as root, file permissions would not
    // stop the server): every commit fails once the busy timeout passes.
    let db = format!("sqlite://{}/wall.db", app.dir.path().display());
    let mut locker = sqlx::SqliteConnection::connect(&db).await.expect("a second connection to the database");
    sqlx::query("BEGIN EXCLUSIVE").execute(&mut locker).await.expect("the write lock");
    let post = serde_json::to_string(&post_msg("lobby", "held up", "h-1")).unwrap();
    ws.send(Message::text(post)).await.unwrap();
    match next_answer(&mut ws, Duration::from_secs(15), TEST).await {
        ServerMsg::Error { code: ErrorCode::Internal, .. } => {}
        other => panic!("{TEST}: expected an internal error for the post, got {other:?}"),
    }
    let (status, body) = health(&app).await;
    assert_eq!(status, 503, "{TEST}: unhealthy while commits fail: {body}");
    assert_eq!(body["status"], "failing", "{TEST}: {body}");
    let reason = body["reason"].as_str().unwrap_or_else(|| panic!("{TEST}: a reason: {body}"));
    assert!(reason.contains("last commit failed") && reason.contains("locked"), "{TEST}: {reason}");
    assert!(!reason.contains("held up"), "{TEST}: the reason never carries post text: {reason}");

    // The lock is released: the next commit succeeds and health is back.
    sqlx::query("ROLLBACK").execute(&mut locker).await.expect("release the lock");
    let post = serde_json::to_string(&post_msg("lobby", "through", "h-2")).unwrap();
    ws.send(Message::text(post)).await.unwrap();
    loop {
        match next_answer(&mut ws, Duration::from_secs(15), TEST).await {
            ServerMsg::Ack { .. } => break,
            ServerMsg::Post(_) => continue,
            other => panic!("{TEST}: expected the post acknowledged, got {other:?}"),
        }
    }
    let (status, body) = health(&app).await;
    assert_eq!((status, body.clone()), (200, serde_json::json!({ "status": "ok" })), "{TEST}: healthy again");
    app.stop().await;
}
