//! Browser plumbing shared by the wall's connection and the lessons: a clock, HTTP calls, and SSE / WebSocket
//! streams as async channels of text.

use futures::channel::mpsc::{unbounded, UnboundedReceiver};
use futures::StreamExt;
use gloo_net::eventsource::futures::EventSource;
use gloo_net::http::Request;
use gloo_net::websocket::{futures::WebSocket, Message};

/// A monotonic clock in milliseconds (`performance.now()`).
pub fn now() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
}

/// `ws://` or `wss://` plus the page's host and `path`.
pub fn ws_url(path: &str) -> String {
    let location = web_sys::window().map(|w| w.location());
    let host = location.as_ref().and_then(|l| l.host().ok()).unwrap_or_default();
    let secure = location.and_then(|l| l.protocol().ok()).is_some_and(|p| p == "https:");
    format!("{}://{host}{path}", if secure { "wss" } else { "ws" })
}

/// Sends a request and returns the body of a 2xx answer.
pub async fn fetch_text(request: Result<Request, gloo_net::Error>) -> Result<String, String> {
    let response = request.map_err(|e| e.to_string())?.send().await.map_err(|e| e.to_string())?;
    if !response.ok() {
        return Err(format!("HTTP {}", response.status()));
    }
    response.text().await.map_err(|e| e.to_string())
}

pub async fn get_text(url: &str) -> Result<String, String> {
    fetch_text(Request::get(url).build()).await
}

pub async fn post_text(url: &str, body: String) -> Result<String, String> {
    fetch_text(Request::post(url).body(body)).await
}

/// How long a WebSocket may take to open, and how often that is checked.
const OPEN_TIMEOUT_MS: u32 = 10_000;
const OPEN_POLL_MS: u32 = 50;

/// Opens a WebSocket and waits until it is open. Polled: gloo's sink is not woken when a
/// socket closes before it opens.
pub async fn open_socket(url: &str) -> Result<WebSocket, String> {
    let ws = WebSocket::open(url).map_err(|e| e.to_string())?;
    for _ in 0..(OPEN_TIMEOUT_MS / OPEN_POLL_MS) {
        match ws.state() {
            gloo_net::websocket::State::Open => return Ok(ws),
            gloo_net::websocket::State::Connecting => gloo_timers::future::TimeoutFuture::new(OPEN_POLL_MS).await,
            _ => break,
        }
    }
    Err("the WebSocket did not open".into())
}

/// The text frames of a socket's stream, ending when it closes.
pub fn text_frames(stream: futures::stream::SplitStream<WebSocket>) -> impl futures::Stream<Item = String> {
    stream.take_while(|m| futures::future::ready(m.is_ok())).filter_map(|m| async move {
        match m {
            Ok(Message::Text(t)) => Some(t),
            _ => None,
        }
    })
}

/// An EventSource's events of the given types, as `(type, data)`; the source closes when
/// the returned guard is dropped.
pub fn event_stream(url: &str, types: &[&str]) -> Result<(UnboundedReceiver<(String, String)>, EventSource), String> {
    let mut source = EventSource::new(url).map_err(|e| e.to_string())?;
    let (tx, rx) = unbounded();
    for kind in types {
        let mut events = source.subscribe(*kind).map_err(|e| e.to_string())?;
        let tx = tx.clone();
        leptos::task::spawn_local(async move {
            while let Some(Ok((kind, event))) = events.next().await {
                if tx.unbounded_send((kind, event.data().as_string().unwrap_or_default())).is_err() {
                    return;
                }
            }
        });
    }
    Ok((rx, source))
}
