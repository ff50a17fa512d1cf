//! Clients that stop reading: whatever they are connected by, they are dropped within the
//! write timeout (plus a second), their slot is given back, and nobody else notices.

use crate::helpers::{post_msg, spawn_app_with, Client, TestApp};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

const WRITE_TIMEOUT_MS: u64 = 1_000;

/// A TCP connection to the app with a tiny receive buffer, so the server's writes stall fast.
async fn tiny_window(app: &TestApp) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(([127, 0, 0, 1], app.port).into()).await.unwrap()
}

/// A WebSocket over a tiny window that joins the busy room, then reads nothing.
async fn stalled_websocket(app: &TestApp) -> Client {
    let stream = tiny_window(app).await;
    let (ws, _) =
        tokio_tungstenite::client_async(app.ws_url(), tokio_tungstenite::MaybeTlsStream::Plain(stream)).await.unwrap();
    let mut stalled = Client::from_stream(ws);
    stalled.recv().await; // hello
    stalled.join("busy", "stalled", None).await;
    stalled
}

async fn metric(app: &TestApp, name: &str) -> f64 {
    let text = reqwest::get(app.http_url("/metrics")).await.unwrap().text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

/// Publishes 8 KB posts into `room` (more than any socket buffers hold), each acknowledged,
/// while `stalled` reads nothing; returns when they are all stored.
async fn flood(publisher: &mut Client, room: &str, posts: u64) {
    let text = "😀".repeat(2_000);
    for i in 1..=posts {
        publisher.send(&post_msg(room, &text, &format!("flood-{i}"))).await;
    }
    let mut acked = 0;
    while acked < posts {
        if let app::protocol::ServerMsg::Ack { .. } = publisher.recv().await {
            acked += 1;
        }
    }
}

/// Waits until `/metrics` counts `open` connections; returns how long that took.
async fn until_open_is(app: &TestApp, open: f64, test: &str) -> Duration {
    let started = Instant::now();
    while metric(app, "wallsocket_connections").await != open {
        assert!(started.elapsed() < Duration::from_secs(30), "{test}: the stalled connection was never dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    started.elapsed()
}

async fn stalled_app(extra: &[&str]) -> TestApp {
    let timeout = WRITE_TIMEOUT_MS.to_string();
    let mut flags = vec!["--write-timeout-ms", &timeout, "--rate-per-sec", "100000", "--rate-burst", "100000"];
    flags.extend_from_slice(extra);
    spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &flags).await
}

/// Floods a room the stalled peer is in until the server gives up on it, then checks it is
/// gone within the write timeout plus a second, and that the publisher was never held up.
async fn stalled_peer_is_dropped(app: &TestApp, test: &str) {
    let mut publisher = app.client().await;
    publisher.join("busy", "publisher", None).await;
    assert_eq!(metric(app, "wallsocket_connections").await, 2.0, "{test}: the stalled peer is counted");
    let started = Instant::now();
    flood(&mut publisher, "busy", 800).await;
    assert!(started.elapsed() < Duration::from_secs(20), "{test}: the publisher was held up");
    let waited = until_open_is(app, 1.0, test).await;
    assert!(
        waited <= Duration::from_millis(WRITE_TIMEOUT_MS + 1_000),
        "{test}: dropped {waited:?} after the last post, more than the write timeout + 1 s"
    );
    // The room still works for everyone else.
    assert_eq!(publisher.post("busy", "still here", "after").await, 801);
}

#[tokio::test]
async fn a_websocket_that_never_reads_is_dropped_even_when_its_queue_never_fills() {
    // A queue so large it never overflows: only the write deadline can end this connection.
    let app = stalled_app(&["--queue-capacity", "100000", "--queue-bytes", "1000000000"]).await;
    let _stalled = stalled_websocket(&app).await;
    stalled_peer_is_dropped(&app, "websocket, no overflow").await;
}

#[tokio::test]
async fn a_websocket_whose_queue_overflows_mid_write_is_dropped() {
    // A queue of a few dozen posts overflows long before the write deadline, however slowly
    // a loaded machine runs the publisher.
    let app = stalled_app(&["--queue-bytes", "300000"]).await;
    let _stalled = stalled_websocket(&app).await;
    stalled_peer_is_dropped(&app, "websocket, overflow").await;
    assert!(metric(&app, "wallsocket_queue_overflows_total").await >= 1.0);
}

#[tokio::test]
async fn an_sse_stream_that_is_never_read_is_dropped() {
    let app = stalled_app(&[]).await;
    let mut stream = tiny_window(&app).await;
    let request = format!(
        "GET /x/sse?room=busy&username=stalled HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\n\r\n",
        app.port
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    // The stream joins as it opens; wait until the room has it, reading nothing.
    let started = Instant::now();
    while metric(&app, "wallsocket_rooms").await != 1.0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the SSE stream never joined");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stalled_peer_is_dropped(&app, "sse").await;
    drop(stream);
}
