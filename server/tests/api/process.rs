//! The real binary: `--help`, and SIGTERM closing sockets with 1001 before exiting.

use crate::helpers::Client;
use crate::helpers::{spawn_binary, Binary};
use app::protocol::close;
use std::process::Command;
use std::time::Duration;

#[test]
fn help_explains_every_setting() {
    let out = Command::new(env!("CARGO_BIN_EXE_wallsocket")).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--listen",
        "--database-url",
        "DATABASE_URL",
        "--allowed-origins",
        "--max-message-bytes",
        "--queue-capacity",
        "--rate-per-sec",
        "--page-cache-ms",
        "--redis-url",
        "--node-name",
        "--gap-wait-ms",
        "--heads-check-ms",
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
}

/// A cluster's nodes share one database: `--redis-url` with SQLite is refused before anything
/// starts (no Redis is needed to see it), saying what to use instead.
#[test]
fn a_cluster_on_sqlite_is_refused_at_startup_with_what_to_use_instead() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/x.db", dir.path().display());
    let out = Command::new(env!("CARGO_BIN_EXE_wallsocket"))
        .args(["--listen", "127.0.0.1:0", "--database-url", &db, "--redis-url", "redis://127.0.0.1:9"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("postgres://"), "{stderr}");
    assert!(!dir.path().join("x.db").exists(), "refused before opening the database");
}

#[tokio::test]
async fn sigterm_closes_sockets_with_1001_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/sig.db", dir.path().display());
    let Binary { mut child, port, .. } = spawn_binary(&["--log", "info", "--database-url", &db]);

    let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.unwrap();
    let mut client = Client::from_stream(ws);
    client.recv().await;
    client.join("lobby", "alice", None).await;
    // A request whose body is still arriving keeps the server draining for a while (it
    // may finish within the grace period), so the refusal below is seen, not raced. Its
    // `100 Continue` proves the server is inside that request before the signal: a request
    // not yet read when the signal lands would be dropped, and the server could exit at once.
    let mut dribbling = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "POST /lab/echo/http?run=s HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 9\r\n\
         Expect: 100-continue\r\n\r\n"
    );
    tokio::io::AsyncWriteExt::write_all(&mut dribbling, head.as_bytes()).await.unwrap();
    let mut answer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read(&mut dribbling, &mut answer))
        .await
        .expect("sigterm_closes_sockets_with_1001_and_exits: 100 Continue within 5 s")
        .unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).contains("100 Continue"), "{:?}", &answer[..read]);
    tokio::io::AsyncWriteExt::write_all(&mut dribbling, b"x").await.unwrap();

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(client.recv_close().await, Some(close::GOING_AWAY));
    // Draining: a new WebSocket is told so (503), not left waiting or reset.
    let refused = tokio::time::timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")),
    )
    .await
    .expect("sigterm_closes_sockets_with_1001_and_exits: a refusal within 5 s");
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => assert_eq!(response.status().as_u16(), 503),
        other => panic!("expected HTTP 503 while draining, got {other:?}"),
    }
    drop(dribbling);
    let exited = tokio::task::spawn_blocking(move || {
        for _ in 0..50 {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = child.kill();
        None
    })
    .await
    .unwrap();
    assert!(exited.expect("exits within 5 s").success());
}
