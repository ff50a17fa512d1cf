//! Every long-lived endpoint is admitted the same way: a foreign Origin gets 403, a full
//! server 503, an address opening too fast 429. One table, one row per endpoint.

use crate::helpers::{spawn_app_with, TestApp};
use std::sync::Arc;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

#[derive(Clone, Copy, Debug)]
enum Kind {
    WebSocket,
    /// A GET whose answer is a stream or a session (SSE, opening a long-poll session).
    Get,
}

/// Every way in that stays open (or opens a session): path (`{ticker}` is replaced by a
/// running ticker's id) and how it is opened.
const ENDPOINTS: &[(&str, Kind)] = &[
    ("/ws", Kind::WebSocket),
    ("/x/sse", Kind::Get),
    ("/x/poll", Kind::Get),
    ("/lab/echo/ws?run=r1", Kind::WebSocket),
    ("/lab/echo/sse?run=r1", Kind::Get),
    ("/lab/ticker/{ticker}/sse", Kind::Get),
    ("/lab/ticker/{ticker}/ws", Kind::WebSocket),
    ("/lab/frames", Kind::WebSocket),
];

/// What an open attempt got: its HTTP status and, if admitted, what keeps it open.
struct Opened {
    status: u16,
    _held: Option<Box<dyn std::any::Any + Send>>,
}

async fn open(app: &TestApp, path: &str, kind: Kind, origin: Option<&str>) -> Opened {
    match kind {
        Kind::WebSocket => {
            let mut request = format!("ws://127.0.0.1:{}{path}", app.port).into_client_request().unwrap();
            if let Some(origin) = origin {
                request.headers_mut().insert("origin", origin.parse().unwrap());
            }
            match tokio_tungstenite::connect_async(request).await {
                Ok((ws, _)) => Opened { status: 101, _held: Some(Box::new(ws)) },
                Err(tungstenite::Error::Http(response)) => Opened { status: response.status().as_u16(), _held: None },
                Err(e) => panic!("{path}: {e}"),
            }
        }
        Kind::Get => {
            let mut request = reqwest::Client::new().get(app.http_url(path));
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            let response = request.send().await.unwrap_or_else(|e| panic!("{path}: {e}"));
            Opened { status: response.status().as_u16(), _held: Some(Box::new(response)) }
        }
    }
}

/// Starts a lab ticker and returns `path` with its id filled in.
async fn with_ticker(app: &TestApp, path: &str) -> String {
    if !path.contains("{ticker}") {
        return path.to_owned();
    }
    let started: serde_json::Value =
        reqwest::Client::new().post(app.http_url("/lab/ticker?rate=1")).send().await.unwrap().json().await.unwrap();
    path.replace("{ticker}", started["id"].as_str().unwrap())
}

async fn app_with(flags: &[&str]) -> TestApp {
    spawn_app_with(Arc::new(tempfile::tempdir().unwrap()), flags).await
}

#[tokio::test]
async fn every_long_lived_endpoint_refuses_a_foreign_origin() {
    let app = app_with(&[]).await;
    for &(path, kind) in ENDPOINTS {
        let path = with_ticker(&app, path).await;
        let own = format!("http://127.0.0.1:{}", app.port);
        assert_eq!(open(&app, &path, kind, Some("https://evil.example")).await.status, 403, "{path}");
        let admitted = open(&app, &path, kind, Some(&own)).await.status;
        assert!(admitted == 101 || admitted == 200, "{path}: its own origin got {admitted}");
    }
}

#[tokio::test]
async fn every_long_lived_endpoint_counts_against_the_one_connection_cap() {
    for &(path, kind) in ENDPOINTS {
        let app = app_with(&["--max-connections", "1"]).await;
        let path = with_ticker(&app, path).await;
        let holder = open(&app, "/ws", Kind::WebSocket, None).await;
        assert_eq!(holder.status, 101);
        assert_eq!(open(&app, &path, kind, None).await.status, 503, "{path} past the cap");
        drop(holder);
        // The slot comes back once the holder is gone; then this endpoint holds it.
        let mut got = 0;
        for _ in 0..100 {
            let attempt = open(&app, &path, kind, None).await;
            got = attempt.status;
            if got != 503 {
                let other = open(&app, "/ws", Kind::WebSocket, None).await.status;
                assert_eq!(other, 503, "{path} holds the only slot");
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(got == 101 || got == 200, "{path}: got {got} once the slot was free");
        app.stop().await;
    }
}

#[tokio::test]
async fn every_long_lived_endpoint_applies_the_per_address_connect_rate() {
    for &(path, kind) in ENDPOINTS {
        let app = app_with(&["--ip-connect-rate", "1"]).await;
        let path = with_ticker(&app, path).await;
        // A burst of two per address (starting a ticker took one); the next is refused.
        let mut held = Vec::new();
        let status = loop {
            let attempt = open(&app, &path, kind, None).await;
            if attempt.status != 101 && attempt.status != 200 {
                break attempt.status;
            }
            held.push(attempt);
            assert!(held.len() <= 2, "{path}: more than the burst was admitted");
        };
        assert_eq!(status, 429, "{path}");
        drop(held);
        app.stop().await;
    }
}

/// Opens a WebSocket as a proxy would, naming the client in `X-Forwarded-For`.
async fn upgrade_forwarded_for(app: &TestApp, client: &str) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = app.ws_url().into_client_request().unwrap();
    request.headers_mut().insert("x-forwarded-for", client.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((ws, response)) => {
            drop(ws);
            response.status().as_u16()
        }
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(e) => panic!("the upgrade failed without an HTTP answer: {e}"),
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_connect_rate_counts_each_client_apart() {
    let app = app_with(&["--ip-connect-rate", "1", "--trusted-proxies", "127.0.0.1"]).await;
    // A burst of two per address, counted under the address the proxy names.
    assert_eq!(upgrade_forwarded_for(&app, "203.0.113.1").await, 101);
    assert_eq!(upgrade_forwarded_for(&app, "203.0.113.1").await, 101);
    assert_eq!(upgrade_forwarded_for(&app, "203.0.113.1").await, 429, "the same client, too fast");
    assert_eq!(upgrade_forwarded_for(&app, "203.0.113.2").await, 101, "another client behind the same proxy");
    app.stop().await;

    // Without --trusted-proxies the header is anyone's to send, and ignored.
    let app = app_with(&["--ip-connect-rate", "1"]).await;
    assert_eq!(upgrade_forwarded_for(&app, "203.0.113.1").await, 101);
    assert_eq!(upgrade_forwarded_for(&app, "203.0.113.2").await, 101);
    assert_eq!(upgrade_forwarded_for(&app, "203.0.113.3").await, 429, "all from 127.0.0.1");
    app.stop().await;
}
