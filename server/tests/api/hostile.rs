//! Hostile clients over raw TCP (the key Autobahn cases re-created), limits on connections,
//! and no compression: every violation is closed with its code and nobody else notices.

use crate::helpers::{rss_kib, spawn_app, spawn_app_with, TestApp};
use app::protocol::close;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;

/// Opens a WebSocket by hand and returns the stream and the response head.
async fn raw_upgrade(app: &TestApp, extra_headers: &str) -> (TcpStream, String) {
    raw_upgrade_on(app.port, extra_headers).await
}

async fn raw_upgrade_on(port: u16, extra_headers: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra_headers}\r\n",
        port
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    (stream, head)
}

/// A frame with the given first byte (FIN, RSV bits, opcode), masked with a zero key or not.
fn frame(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    if masked {
        out.extend_from_slice(&[0, 0, 0, 0]); // XOR with zeros leaves the payload as is
    }
    out.extend_from_slice(payload);
    out
}

/// Reads server frames until a close frame, and returns its code.
async fn close_code(stream: &mut TcpStream) -> u16 {
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let mut head = [0u8; 2];
            stream.read_exact(&mut head).await.unwrap();
            let len = match head[1] & 0x7f {
                126 => u64::from(stream.read_u16().await.unwrap()),
                127 => stream.read_u64().await.unwrap(),
                n => u64::from(n),
            };
            let mut payload = vec![0u8; len as usize];
            stream.read_exact(&mut payload).await.unwrap();
            if head[0] & 0x0f == 0x8 {
                return u16::from_be_bytes([payload[0], payload[1]]);
            }
        }
    })
    .await
    .expect("a close frame within 5 s")
}

async fn violation_closes_with(app: &TestApp, bytes: Vec<u8>, expected: u16) {
    let (mut stream, _) = raw_upgrade(app, "").await;
    stream.write_all(&bytes).await.unwrap();
    assert_eq!(close_code(&mut stream).await, expected, "for frame bytes {:02x?}", &bytes[..bytes.len().min(4)]);
}

#[tokio::test]
async fn protocol_violations_close_with_1002_and_bad_utf8_with_1007() {
    let app = spawn_app().await;
    let mut bystander = app.client().await;
    bystander.join("lobby", "bystander", None).await;

    violation_closes_with(&app, frame(0x80 | 0x40 | 0x1, b"hi", true), close::PROTOCOL_ERROR).await; // RSV1 set
    violation_closes_with(&app, frame(0x80 | 0x3, b"hi", true), close::PROTOCOL_ERROR).await; // unknown opcode
    violation_closes_with(&app, frame(0x9, b"hi", true), close::PROTOCOL_ERROR).await; // fragmented ping
    violation_closes_with(&app, frame(0x80 | 0x9, &[b'x'; 126], true), close::PROTOCOL_ERROR).await; // oversized ping
    violation_closes_with(&app, frame(0x80 | 0x1, b"hi", false), close::PROTOCOL_ERROR).await; // unmasked
    violation_closes_with(&app, frame(0x80 | 0x1, &[0xff, 0xfe, 0xfd], true), close::INVALID_DATA).await;

    // The server is up and the bystander never noticed.
    assert_eq!(bystander.post("lobby", "still fine", "b-1").await, 1);
}

#[tokio::test]
async fn a_message_built_from_many_small_fragments_closes_with_1009() {
    let app = spawn_app().await;
    let (mut stream, _) = raw_upgrade(&app, "").await;
    let chunk = vec![b'x'; 1000];
    let mut bytes = frame(0x1, &chunk, true); // text, not final
    for _ in 0..80 {
        bytes.extend(frame(0x0, &chunk, true)); // continuation, not final
    }
    // The server may close before reading everything; the close code is what matters.
    let _ = stream.write_all(&bytes).await;
    assert_eq!(close_code(&mut stream).await, close::TOO_BIG);
}

#[tokio::test]
async fn an_offer_of_compression_is_declined() {
    let app = spawn_app().await;
    let (_stream, head) =
        raw_upgrade(&app, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n").await;
    assert!(!head.to_ascii_lowercase().contains("sec-websocket-extensions"), "{head}");
}

fn status_of(result: Result<crate::helpers::Client, tungstenite::Error>) -> u16 {
    match result {
        Ok(_) => 101,
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[tokio::test]
async fn past_the_connection_cap_upgrades_get_503_and_existing_sessions_are_untouched() {
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &["--max-connections", "2"]).await;
    let mut first = app.client().await;
    first.join("lobby", "first", None).await;
    let second = app.client().await;
    assert_eq!(status_of(app.connect(None).await), 503);
    assert_eq!(first.post("lobby", "unaffected", "f-1").await, 1);
    drop(second);
    // Once a slot frees up, new connections are accepted again.
    let mut accepted = false;
    for _ in 0..50 {
        if status_of(app.connect(None).await) == 101 {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(accepted);
}

#[tokio::test]
async fn new_connections_are_rate_limited_per_address() {
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &["--ip-connect-rate", "1"]).await;
    assert_eq!(status_of(app.connect(None).await), 101);
    assert_eq!(status_of(app.connect(None).await), 101); // burst of two
    assert_eq!(status_of(app.connect(None).await), 429);
}

#[tokio::test]
async fn a_slowloris_client_is_cut_off_and_fresh_clients_still_get_in() {
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &["--header-read-timeout-ms", "500"]).await;
    let mut slow = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let cut_off = async {
        for i in 0.. {
            // One header byte at a time, never finishing the request.
            if slow.write_all(if i % 2 == 0 { b"X" } else { b"-" }).await.is_err() {
                return;
            }
            let mut buf = [0u8; 256];
            if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(100), slow.read(&mut buf)).await {
                if n == 0 || buf.starts_with(b"HTTP/1.1 408") {
                    return;
                }
            }
        }
    };
    let fresh = async {
        // Meanwhile, new clients connect at once.
        for _ in 0..5 {
            let t = std::time::Instant::now();
            let mut client = app.client().await;
            client.join("lobby", "fresh", None).await;
            assert!(t.elapsed() < Duration::from_secs(1));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), async { tokio::join!(cut_off, fresh) })
        .await
        .expect("the dribbling client was cut off");
    assert!(started.elapsed() < Duration::from_secs(3), "cut off after the header timeout, not later");
}

#[tokio::test]
async fn floods_of_oversized_fragmented_messages_keep_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/mem.db", dir.path().display());
    // 16 KiB per message: 600 connections may each hold that much at once (9.4 MiB), where
    // buffering every fragment would hold all 43 MB.
    let flags = ["--log", "info", "--database-url", &db, "--ip-connect-rate", "100000", "--max-message-bytes", "16384"];
    let mut binary = crate::helpers::spawn_binary(&flags);
    let chunk = vec![b'x'; 1000];
    let mut flood = frame(0x1, &chunk, true);
    for _ in 0..70 {
        flood.extend(frame(0x0, &chunk, true));
    }
    // Warm up, then measure: 600 concurrent connections each send 71 KB of fragments (43 MB
    // in all).
    let send_one = || async {
        let step = Duration::from_secs(5);
        let (mut stream, _) = tokio::time::timeout(step, raw_upgrade_on(binary.port, "")).await.expect("upgraded");
        let _ = tokio::time::timeout(step, stream.write_all(&flood)).await.expect("written");
        assert_eq!(close_code(&mut stream).await, close::TOO_BIG);
    };
    for _ in 0..50 {
        send_one().await;
    }
    let before = rss_kib(binary.child.id());
    // All at once: memory must be bounded by what is in flight, not saved by taking turns.
    futures::future::join_all((0..600).map(|_| send_one())).await;
    let after = rss_kib(binary.child.id());
    assert!(after < before + 24 * 1024, "memory grew from {before} KiB to {after} KiB");
    binary.child.kill().unwrap();
    binary.child.wait().unwrap();
}

#[tokio::test]
async fn posts_that_dribble_their_body_are_answered_408_in_time() {
    let app = spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), &["--request-timeout-ms", "1000"]).await;
    let started = std::time::Instant::now();
    let dribblers = (0..20).map(|_| async {
        let mut stream = TcpStream::connect(("127.0.0.1", app.port)).await.unwrap();
        let head = format!(
            "POST /lab/echo/http?run=d HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 100\r\n\r\n",
            app.port
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        loop {
            // One body byte every 300 ms, never finishing.
            if stream.write_all(b"x").await.is_err() {
                break;
            }
            let mut buf = [0u8; 512];
            match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => break,
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    });
    let answers = tokio::time::timeout(Duration::from_secs(10), futures::future::join_all(dribblers))
        .await
        .expect("posts_that_dribble_their_body_are_answered_408_in_time: a dribbler was never cut off");
    for answer in answers {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer:?}");
    }
    assert!(started.elapsed() < Duration::from_millis(2_500), "cut off after {:?}", started.elapsed());
}
