//! The lessons' endpoints: echo on every transport with byte counts, the captured
//! handshake, and the lab's ticker on four transports.

use crate::helpers::{spawn_app, TestApp};
use app::lab::{FrameReport, Handshake, Tick, WireReport};
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
    assert!(ticks.len() >= 2 && ticks[0].n == 1, "a short poll answers every tick so far: {ticks:?}");
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
async fn a_short_poll_gets_every_tick_since_its_last_one_not_only_the_latest() {
    let app = spawn_app().await;
    let started: serde_json::Value =
        reqwest::Client::new().post(app.http_url("/lab/ticker?rate=50")).send().await.unwrap().json().await.unwrap();
    let id = started["id"].as_str().unwrap().to_owned();
    // A long poll past tick 9 returns once tick 10 exists (or after its 25 s wait: then empty).
    let get = |path: String| {
        let url = app.http_url(&path);
        async move { reqwest::get(url).await.unwrap().json::<Vec<Tick>>().await.unwrap() }
    };
    let waited = get(format!("/lab/ticker/{id}/longpoll?after=9")).await;
    assert!(waited.first().is_some_and(|t| t.n == 10), "the long poll starts at the first tick after 9: {waited:?}");
    let ticks = get(format!("/lab/ticker/{id}/poll?after=2")).await;
    let numbers: Vec<u64> = ticks.iter().map(|t| t.n).collect();
    assert!(numbers.len() >= 8, "ticks 3 to 10 at least: {numbers:?}");
    assert_eq!(numbers, (3..3 + numbers.len() as u64).collect::<Vec<_>>(), "every tick after 2, in order");
}

#[tokio::test]
async fn the_frame_lesson_reports_the_masked_frame_it_read_and_its_unmasked_echo() {
    let app = spawn_app().await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{}/lab/frames", app.port)).await.unwrap();
    ws.send(Message::text("hello, frames")).await.unwrap();
    let mut frames = Vec::new();
    for _ in 0..2 {
        frames.push(tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap());
    }
    assert_eq!(frames[0].to_text().unwrap(), "hello, frames", "the echo comes first");
    let report: FrameReport = serde_json::from_str(frames[1].to_text().unwrap()).unwrap();
    let (sent, echoed) = (&report.sent, &report.echoed);
    assert_eq!((sent.fin, sent.opcode, sent.masked, sent.length_bits), (true, 1, true, 7));
    assert_eq!(sent.header.len(), 6, "2 bytes, then the 4-byte masking key");
    let key = sent.mask_key.unwrap();
    let unmasked: Vec<u8> = sent.payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]).collect();
    assert_eq!(unmasked, b"hello, frames", "the bytes read, unmasked with the key read");
    assert_eq!(sent.text, "hello, frames");
    assert_eq!((echoed.masked, echoed.mask_key, echoed.text.as_str()), (false, None, "hello, frames"));
    assert_eq!(echoed.header, [0x81, 13]);
}
