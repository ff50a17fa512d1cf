//! `GET /x/sse`: Server-Sent Events, server → client. The first event is `hello` naming the
//! session; with `room` in the query it joins at once (as `username`, or watching without
//! one), from `Last-Event-ID` (the seq of the last post event received) or `since`. The
//! session ends with the stream.

use super::{open, HttpSession, HttpSessions};
use crate::frame::Frame;
use crate::gateway::Permit;
use crate::ws::WsState;
use app::protocol::encode_server;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio::time::Instant;

#[derive(Deserialize)]
pub struct SseQuery {
    room: Option<String>,
    username: Option<String>,
    since: Option<u64>,
}

pub async fn sse(
    State(state): State<WsState>,
    permit: Permit,
    headers: HeaderMap,
    Query(query): Query<SseQuery>,
) -> Response {
    let (id, mut session, mut queue, overflowed) = open(&state, permit.address());
    let hello = state.limits.hello(Some(id.clone()));
    let _ = session.client().deliver(Frame::shared(encode_server(&hello)));
    if let Some(room) = query.room {
        let last_event = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        let mut join = serde_json::json!({ "type": "join", "room": room, "since": last_event.or(query.since) });
        // Without a name the stream watches.
        if let Some(username) = query.username {
            join["username"] = username.into();
        }
        if let Some(answer) = session.handle_text(&join.to_string()).await.resolve().await {
            let _ = session.client().deliver(Frame::shared(encode_server(&answer)));
        }
    }
    let entry = Arc::new(HttpSession {
        session: tokio::sync::Mutex::new(session),
        queue: tokio::sync::Mutex::new(None),
        overflowed: overflowed.clone(),
        last_polled: Mutex::new(Instant::now()),
        _permit: None,
    });
    state.sessions.insert(id.clone(), entry);
    let guard = CloseOnDrop { id, sessions: state.sessions.clone(), _permit: permit };
    let shutdown = state.shutdown.clone();
    let stream = async_stream(move |tx| async move {
        let _guard = guard;
        loop {
            let item = tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = overflowed.cancelled() => return,
                item = queue.recv() => item,
            };
            let Some(text) = item else { return };
            let mut event = Event::default().data(text.as_str());
            if let Some(seq) = post_seq(text.as_str()) {
                event = event.id(seq.to_string());
            }
            // A stream that stopped taking events must still notice overflow and shutdown.
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = overflowed.cancelled() => return,
                sent = tx.send(Ok::<_, std::convert::Infallible>(event)) => if sent.is_err() { return },
            }
        }
    });
    // Proxies that buffer (nginx by default) would hold events back.
    ([("x-accel-buffering", "no")], Sse::new(stream).keep_alive(KeepAlive::default())).into_response()
}

/// A stream fed by a task, so the task's state (the queue, the guard) lives as long as the
/// response body and is dropped with it.
fn async_stream<T, F, Fut>(body: F) -> impl futures::Stream<Item = T>
where
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<T>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, rx) = mpsc::channel(16);
    let task = tokio::spawn(body(tx));
    let abort = task.abort_handle();
    futures::stream::unfold((rx, AbortOnDrop(abort)), |(mut rx, guard)| async move {
        rx.recv().await.map(|item| (item, (rx, guard)))
    })
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Closes an SSE session when its stream ends, whichever way, and gives back its slot.
struct CloseOnDrop {
    id: String,
    sessions: HttpSessions,
    _permit: Permit,
}

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.sessions.close(&self.id);
    }
}

/// The seq of a `post` message, which becomes the SSE event id (and so `Last-Event-ID`).
fn post_seq(json: &str) -> Option<u64> {
    #[derive(Deserialize)]
    struct Peek {
        #[serde(rename = "type")]
        kind: String,
        seq: Option<u64>,
    }
    let peek: Peek = serde_json::from_str(json).ok()?;
    (peek.kind == "post").then_some(peek.seq).flatten()
}
