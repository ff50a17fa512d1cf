//! The lessons' endpoints: echo on every transport with byte counts, the captured
//! handshake, and the lab's ticker on four transports.

use crate::helpers::{spawn_app, TestApp};
use app::lab::{Handshake, Tick, WireReport};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

async fn report(app: &TestApp, run: &str) -> WireReport {
    reqwest::get(app.http_url(&format!("/lab/wire?run={run}"))).await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn http_echo_returns_the_body_and_counts_its_bytes() {
    let app = spawn_app().await;
    let response =
        reqwest::Client::new().post(app.http_url("/lab/echo/http?run=h1")).body("hello").send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");
    let http = &report(&app, "h1").await["http"];
    assert_eq!((http.messages_up, http.up_payload_bytes, http.down_payload_bytes), (1, 5, 5));
    assert!(http.up_header_bytes > 50 && http.down_header_bytes > 50, "{http:?}");
    let bad = reqwest::Client::new().post(app.http_url("/lab/echo/http?run=not%20ok")).body("x").send().await.unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn websocket_echo_counts_frame_headers() {
    let app = spawn_app().await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/lab/echo/ws?run=w1", app.port)).await.unwrap();
    for _ in 0..3 {
        ws.send(Message::text("abc")).await.unwrap();
        let echoed = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
        assert_eq!(echoed, Message::text("abc"));
    }
    let count = &report(&app, "w1").await["ws"];
    // 3 frames of 3 bytes: 6-byte masked headers up, 2-byte headers down.
    assert_eq!(
        (count.messages_up, count.up_header_bytes, count.up_payload_bytes, count.down_header_bytes),
        (3, 18, 9, 6)
    );
}

#[tokio::test]
async fn sse_echo_sends_each_post_back_as_an_event() {
    let app = spawn_app().await;
    let mut stream = reqwest::get(app.http_url("/lab/echo/sse?run=s1")).await.unwrap();
    let mut text = String::new();
    while !text.contains("\n\n") {
        text.push_str(&String::from_utf8_lossy(&stream.chunk().await.unwrap().unwrap()));
    }
    let session = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap().to_owned();
    assert!(text.contains("event: session"));
    let posted = reqwest::Client::new()
        .post(app.http_url(&format!("/lab/echo/sse?run=s1&session={session}")))
        .body("ping-1")
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 204);
    let mut more = String::new();
    while !more.contains("data: ping-1") {
        more.push_str(&String::from_utf8_lossy(
            &tokio::time::timeout(Duration::from_secs(5), stream.chunk()).await.unwrap().unwrap().unwrap(),
        ));
    }
    let sse = &report(&app, "s1").await["sse"];
    assert_eq!((sse.messages_up, sse.messages_down, sse.up_payload_bytes, sse.down_payload_bytes), (1, 1, 6, 6));
}

#[tokio::test]
async fn the_captured_handshake_matches_what_the_client_sent() {
    let app = spawn_app().await;
    let mut request = format!("ws://127.0.0.1:{}/ws?capture=tok-1", app.port).into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==".parse().unwrap());
    request.headers_mut().insert("x-note", "from the test".parse().unwrap());
    let (_ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    let seen: Handshake = reqwest::get(app.http_url("/lab/handshake/tok-1")).await.unwrap().json().await.unwrap();
    assert_eq!(seen.request_line, "GET /ws?capture=tok-1 HTTP/1.1");
    let header = |pairs: &[(String, String)], name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    assert_eq!(header(&seen.request_headers, "x-note").as_deref(), Some("from the test"));
    assert_eq!(header(&seen.request_headers, "sec-websocket-key").as_deref(), Some("dGhlIHNhbXBsZSBub25jZQ=="));
    assert_eq!(seen.status_line, "HTTP/1.1 101 Switching Protocols");
    let accept = response.headers()["sec-websocket-accept"].to_str().unwrap();
    assert_eq!(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(header(&seen.response_headers, "sec-websocket-accept").as_deref(), Some(accept));
    assert_eq!(seen.accept.accept, accept);
    assert_eq!(reqwest::get(app.http_url("/lab/handshake/unknown")).await.unwrap().status(), 404);
}

#[tokio::test]
async fn the_ticker_reaches_all_four_transports() {
    let app = spawn_app().await;
    let started: serde_json::Value =
        reqwest::Client::new().post(app.http_url("/lab/ticker?rate=20")).send().await.unwrap().json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_owned();

    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/lab/ticker/{id}/ws", app.port)).await.unwrap();
    let frame = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
    let tick: Tick = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert!(tick.n >= 1);

    let mut sse = reqwest::get(app.http_url(&format!("/lab/ticker/{id}/sse"))).await.unwrap();
    let chunk = tokio::time::timeout(Duration::from_secs(5), sse.chunk()).await.unwrap().unwrap().unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("\"n\":"));

    let ticks: Vec<Tick> = reqwest::get(app.http_url(&format!("/lab/ticker/{id}/longpoll?after={}", tick.n)))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(ticks[0].n > tick.n, "a long poll answers with a newer tick");
    let ticks: Vec<Tick> =
        reqwest::get(app.http_url(&format!("/lab/ticker/{id}/poll?after=0"))).await.unwrap().json().await.unwrap();
    assert_eq!(ticks.len(), 1);
    let ticks: Vec<Tick> =
        reqwest::get(app.http_url(&format!("/lab/ticker/{id}/poll?after=999999"))).await.unwrap().json().await.unwrap();
    assert!(ticks.is_empty(), "a short poll answers at once, even with nothing new");

    let counts = report(&app, &id).await;
    for transport in ["ws", "sse", "longpoll", "poll"] {
        assert!(counts[transport].down_payload_bytes > 0, "{transport}: {counts:?}");
    }
    assert_eq!(counts["poll"].messages_up, 2);
    let refused = reqwest::Client::new().post(app.http_url("/lab/ticker?rate=1000")).send().await.unwrap();
    assert_eq!(refused.status(), 400);
}

#[tokio::test]
async fn the_cli_speed_run_measures_every_transport() {
    let app = spawn_app().await;
    let base = format!("http://127.0.0.1:{}", app.port);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_wallsocket"))
        .args(["bench", "speed", "--url", &base, "--n", "50", "--size", "64", "--json"])
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out).await.unwrap().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let results: Vec<app::lab::SpeedResult> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = results.iter().map(|r| r.transport.as_str()).collect();
    assert_eq!(names, ["http", "ws", "sse"]);
    for r in &results {
        assert_eq!(r.round_trips, 50);
        assert!(r.latency.p50 > 0.0 && r.latency.p50 <= r.latency.p99 && r.latency.p99 <= r.latency.max);
        let wire = r.wire.as_ref().expect("the server counted this transport");
        assert_eq!(wire.up_payload_bytes, 50 * 64, "{}", r.transport);
    }
    assert_eq!(results[1].header_bytes_per_round_trip(), Some(8.0), "6-byte masked frame up, 2-byte frame down");

    let table = tokio::process::Command::new(env!("CARGO_BIN_EXE_wallsocket"))
        .args(["bench", "speed", "--url", &base, "--n", "20", "--pipelined"])
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("20 round trips of 32 bytes, pipelined"), "{table}");
    assert!(table.contains("WebSocket:") && table.lines().any(|l| l.starts_with("sse ")), "{table}");
}

#[tokio::test]
async fn the_cli_fanout_run_counts_every_delivery_with_no_loss_or_reordering() {
    let flags = ["--rate-per-sec", "100000", "--rate-burst", "100000"];
    let app = crate::helpers::spawn_app_with(std::sync::Arc::new(tempfile::tempdir().unwrap()), &flags).await;
    let base = format!("http://127.0.0.1:{}", app.port);
    let args = [
        "bench",
        "fanout",
        "--url",
        &base,
        "--clients",
        "5",
        "--publishers",
        "2",
        "--rate",
        "20",
        "--seconds",
        "1",
        "--json",
    ];
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_wallsocket")).args(args).output();
    let out = tokio::time::timeout(Duration::from_secs(60), out).await.unwrap().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["posts"], 40);
    assert_eq!(report["deliveries"], 200);
    assert_eq!(report["expected_deliveries"], 200);
    assert_eq!(
        (report["lost"].as_u64(), report["duplicated"].as_u64(), report["out_of_order"].as_u64()),
        (Some(0), Some(0), Some(0))
    );
    assert!(report["latency"]["p99"].as_f64().unwrap() > 0.0);
}
