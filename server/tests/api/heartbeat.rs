//! A peer that stops answering pings is closed after ping interval + timeout (paused time).

use crate::helpers::spawn_app;
use app::protocol::{close, ClientMsg, ServerMsg};
use std::time::Duration;

#[tokio::test]
async fn a_silent_peer_is_closed_after_interval_plus_timeout() {
    let app = spawn_app().await;
    let mut silent = app.client().await;
    silent.join("lobby", "ghost", None).await;
    // From here on the client reads nothing, so it answers no ping.
    tokio::time::pause();
    tokio::time::sleep(Duration::from_secs(39)).await;
    tokio::time::resume();
    let mut watcher = app.client().await;
    let (_, members) = watcher.join("lobby", "watcher", None).await;
    assert_eq!(members, 2, "still there before 20 s + 20 s");
    drop(watcher);

    tokio::time::pause();
    tokio::time::sleep(Duration::from_secs(2)).await;
    tokio::time::resume();
    assert_eq!(silent.recv_close().await, Some(close::HEARTBEAT_TIMEOUT));
    let mut after = app.client().await;
    let (_, members) = after.join("lobby", "after", None).await;
    assert_eq!(members, 1, "the silent peer left the room");
    // And its connection is no longer counted: only `after` remains.
    let mut metrics = String::new();
    for _ in 0..50 {
        metrics = reqwest::get(app.http_url("/metrics")).await.unwrap().text().await.unwrap();
        if metrics.lines().any(|l| l == "wallsocket_connections 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(metrics.lines().any(|l| l == "wallsocket_connections 1"), "{metrics}");
    assert!(metrics.contains("wallsocket_closes_total{code=\"4002\"} 1"), "{metrics}");
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_and_ping_gets_pong() {
    let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let app = crate::helpers::spawn_app_with(dir, &["--ping-interval-ms", "100", "--ping-timeout-ms", "100"]).await;
    let mut alive = app.client().await;
    alive.join("lobby", "alive", None).await;
    // Reading lets tungstenite answer the server's pings: ten intervals pass without a close.
    alive.expect_silence(1_000).await;
    alive.send(&ClientMsg::Ping).await;
    assert_eq!(alive.recv().await, ServerMsg::Pong);
    assert_eq!(alive.post("lobby", "still here", "h-1").await, 1);
}
