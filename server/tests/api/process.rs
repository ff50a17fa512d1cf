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
    ] {
        assert!(help.contains(needle), "--help mentions {needle}:\n{help}");
    }
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

    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert_eq!(client.recv_close().await, Some(close::GOING_AWAY));
    // Draining: no new WebSocket gets in.
    assert!(
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/ws")).await.is_err(),
        "new upgrades are refused while draining"
    );
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
